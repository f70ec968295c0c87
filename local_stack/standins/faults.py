"""Failures a stand-in injects on request, so tests can show how the workflow survives them.

Kinds of fault:

- ``error500`` and ``error503``: answer with that status before doing anything.
- ``throttle429``: answer 429 with ``Retry-After: 1`` before doing anything.
- ``lost_response``: do the work (a write happens), then drop the connection without any
  HTTP answer, as when a network path fails after the server committed. The client sees a
  connection error and cannot tell whether its request took effect.
- ``connection_reset``: drop the connection before doing anything; the client sees the same
  connection error as for a lost response, but nothing happened.
- ``slow``: hold the request past the client's timeout, then do the work and answer to a
  client that has given up. A write therefore lands late, possibly after the client's retry.

Faults come from two sources, consulted in this order: scripted faults (``add``), injected
into the next matching requests, and random faults (``add_random``), injected into each
matching request with a given probability drawn from a seeded generator.
"""

import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass

from flask import Flask, Response, g, request

FAULT_KINDS = (
    "error500",
    "error503",
    "throttle429",
    "lost_response",
    "connection_reset",
    "slow",
)
ANY_METHOD = "*"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# How long a slow answer holds its request unless told otherwise: past the functions' HTTP
# timeout on the local stack (5 s), and bounded so a stopped stack never waits long.
DEFAULT_SLOW_SECONDS = 6.0
MAX_SLOW_SECONDS = 60.0

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


@dataclass
class _RandomFaults:
    rate: float
    kinds: tuple[str, ...]
    methods: frozenset[str] | None
    path: re.Pattern
    draws: random.Random

    def applies_to(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.path.fullmatch(path))


class FaultPlan:
    """Faults a stand-in injects into matching requests, shared safely across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._planned: list[_PlannedFault] = []
        self._random_faults: list[_RandomFaults] = []
        self.slow_seconds = DEFAULT_SLOW_SECONDS
        # (kind, "write" or "read") to how many times it was injected, for reports.
        self.injected: Counter = Counter()

    def add(self, method: str, path_regex: str, kind: str, times: int = 1) -> None:
        """Inject kind into the next times requests whose method and whole path match."""
        _check_kind(kind)
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        planned = _PlannedFault(method.upper(), re.compile(path_regex), kind, times)
        with self._lock:
            self._planned.append(planned)

    def add_random(
        self,
        rate: float,
        seed: int,
        *,
        kinds: tuple[str, ...] = FAULT_KINDS,
        methods: tuple[str, ...] | None = None,
        path_regex: str = ".*",
        slow_seconds: float | None = None,
    ) -> None:
        """Inject one of kinds, picked evenly, into each matching request with probability rate.

        ``methods`` limits the faults to those methods (all by default). The generator is
        seeded, so the sequence of decisions is the same from run to run; which request meets
        which decision still depends on the order concurrent requests arrive in.
        """
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        if not kinds:
            raise ValueError("kinds must name at least one fault kind")
        for kind in kinds:
            _check_kind(kind)
        if slow_seconds is not None and not 0 < slow_seconds <= MAX_SLOW_SECONDS:
            raise ValueError(f"slow_seconds must be above 0 and at most {MAX_SLOW_SECONDS}")
        faults = _RandomFaults(
            rate,
            tuple(kinds),
            frozenset(method.upper() for method in methods) if methods else None,
            re.compile(path_regex),
            random.Random(seed),
        )
        with self._lock:
            self._random_faults.append(faults)
            if slow_seconds is not None:
                self.slow_seconds = slow_seconds

    def clear(self) -> None:
        """Forget every fault not injected yet, scripted and random."""
        with self._lock:
            self._planned.clear()
            self._random_faults.clear()

    def take(self, method: str, path: str) -> str | None:
        """Return the fault kind to inject into this request, if any, and count it as used."""
        method = method.upper()
        with self._lock:
            kind = self._take_planned(method, path) or self._draw_random(method, path)
            if kind is not None:
                self.injected[kind, "write" if method in WRITE_METHODS else "read"] += 1
            return kind

    def _take_planned(self, method: str, path: str) -> str | None:
        for planned in self._planned:
            if planned.applies_to(method, path):
                planned.remaining -= 1
                if planned.remaining == 0:
                    self._planned.remove(planned)
                return planned.kind
        return None

    def _draw_random(self, method: str, path: str) -> str | None:
        for faults in self._random_faults:
            if faults.applies_to(method, path) and faults.draws.random() < faults.rate:
                return faults.draws.choice(faults.kinds)
        return None


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")


def install_fault_plan(app: Flask, plan: FaultPlan, journal: list) -> None:
    """Make app consult plan before each request and note (method, path, status) in journal.

    The status noted for a lost response or a reset connection is None: the client never
    saw one.
    """

    @app.before_request
    def inject_fault():
        kind = plan.take(request.method, request.path)
        g.fault = kind
        if kind == "slow":
            time.sleep(plan.slow_seconds)
        elif kind == "connection_reset":
            _drop_connection(request.environ, reset=True)
            return Response(status=500)
        elif kind in _IMMEDIATE_ANSWERS:
            status, text, headers = _IMMEDIATE_ANSWERS[kind]
            return Response(text, status=status, headers=headers, mimetype="text/plain")
        return None

    @app.after_request
    def note_and_maybe_lose(response: Response) -> Response:
        kind = g.get("fault")
        unanswered = kind in ("lost_response", "connection_reset")
        journal.append(
            (request.method, request.path, None if unanswered else response.status_code)
        )
        if kind == "lost_response":
            _drop_connection(request.environ)
        return response


def _drop_connection(environ: dict, reset: bool = False) -> None:
    # Shutting the socket down (without closing it: the server still owns it) sends the
    # client an end of stream where it expects a status line. The server's own attempt to
    # write the response then fails with a broken pipe, which werkzeug treats as a client
    # that went away. A reset also sets a zero linger, so the close that follows is abrupt.
    connection = environ["werkzeug.socket"]
    if reset:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.shutdown(socket.SHUT_RDWR)
