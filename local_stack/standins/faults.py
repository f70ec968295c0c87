"""Failures a stand-in injects on request, so tests can show how the workflow survives them.

Kinds of fault:

- ``error500`` and ``error503``: answer with that status before doing anything.
- ``throttle429``: answer 429 with ``Retry-After: 1`` before doing anything.
- ``lost_response``: do the work (a write happens), then drop the connection without any
  HTTP answer, as when a network path fails after the server committed. The client sees a
  connection error and cannot tell whether its request took effect.
"""

import re
import socket
import threading
from dataclasses import dataclass

from flask import Flask, Response, g, request

FAULT_KINDS = ("error500", "error503", "throttle429", "lost_response")
ANY_METHOD = "*"

_IMMEDIATE_ANSWERS = {
    "error500": (500, "Internal Server Error", {}),
    "error503": (503, "Service Unavailable", {}),
    "throttle429": (429, "Too Many Requests", {"Retry-After": "1"}),
}


@dataclass
class _PlannedFault:
    method: str
    path: re.Pattern
    kind: str
    remaining: int

    def applies_to(self, method: str, path: str) -> bool:
        return self.method in (ANY_METHOD, method) and self.path.fullmatch(path) is not None


class FaultPlan:
    """Faults a stand-in injects into the next matching requests, shared safely across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._planned: list[_PlannedFault] = []

    def add(self, method: str, path_regex: str, kind: str, times: int = 1) -> None:
        """Inject kind into the next times requests whose method and whole path match."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        planned = _PlannedFault(method.upper(), re.compile(path_regex), kind, times)
        with self._lock:
            self._planned.append(planned)

    def clear(self) -> None:
        """Forget every fault not injected yet."""
        with self._lock:
            self._planned.clear()

    def take(self, method: str, path: str) -> str | None:
        """Return the fault kind to inject into this request, if any, and count it as used."""
        with self._lock:
            for planned in self._planned:
                if planned.applies_to(method.upper(), path):
                    planned.remaining -= 1
                    if planned.remaining == 0:
                        self._planned.remove(planned)
                    return planned.kind
        return None


def install_fault_plan(app: Flask, plan: FaultPlan, journal: list) -> None:
    """Make app consult plan before each request and note (method, path, status) in journal.

    The status noted for a lost response is None: the client never saw one.
    """

    @app.before_request
    def inject_fault():
        kind = plan.take(request.method, request.path)
        if kind == "lost_response":
            g.lose_response = True
        elif kind is not None:
            status, text, headers = _IMMEDIATE_ANSWERS[kind]
            return Response(text, status=status, headers=headers, mimetype="text/plain")
        return None

    @app.after_request
    def note_and_maybe_lose(response: Response) -> Response:
        lost = g.get("lose_response", False)
        journal.append((request.method, request.path, None if lost else response.status_code))
        if lost:
            _drop_connection(request.environ)
        return response


def _drop_connection(environ: dict) -> None:
    # Shutting the socket down (without closing it: the server still owns it) sends the
    # client an end of stream where it expects a status line. The server's own attempt to
    # write the response then fails with a broken pipe, which werkzeug treats as a client
    # that went away.
    connection = environ["werkzeug.socket"]
    connection.shutdown(socket.SHUT_RDWR)
