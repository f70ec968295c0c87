"""Serve a WSGI app on a loopback port from a background thread, for the local stack and tests."""

import ipaddress
import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local_stack.tls import LocalTLS

STOP_TIMEOUT_SECONDS = 5
# How often the serving thread looks for a stop request, so stopping takes at most this long.
POLL_INTERVAL_SECONDS = 0.05


class RunningServer:
    """A threaded WSGI server answering on a loopback port until it is stopped."""

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread, scheme: str):
        self._server = server
        self._thread = thread
        self._scheme = scheme

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._server.server_port

    @property
    def host_port(self) -> str:
        """The address as "host:port", which balrogclient expects as its Auth0 domain."""
        return f"{self._server.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, for example "https://127.0.0.1:54321"."""
        return f"{self._scheme}://{self.host_port}"

    def stop(self) -> None:
        """Stop accepting requests, close the listening socket and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=STOP_TIMEOUT_SECONDS)


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its one line per request on the console."""

    def log_request(self, code="-", size="-") -> None:
        pass


def start_wsgi_server(
    app,
    *,
    tls: LocalTLS | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    log_requests: bool = False,
) -> RunningServer:
    """Start app on host:port (port 0 picks a free one) in a daemon thread, over https with tls."""
    _refuse_non_loopback(host)
    server = make_server(
        host,
        port,
        app,
        threaded=True,
        request_handler=WSGIRequestHandler if log_requests else _QuietRequestHandler,
        ssl_context=tls.ssl_context() if tls else None,
    )
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
        name=f"wsgi-{server.server_port}",
        daemon=True,
    )
    thread.start()
    return RunningServer(server, thread, "https" if tls else "http")


def _refuse_non_loopback(host: str) -> None:
    # The stand-ins accept fake credentials and inject faults: they must never be reachable
    # from another machine.
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the local stack serves on loopback only, not on {host!r}")
