"""`journeyforge view view.serve=true`: the site over HTTP on 127.0.0.1 (the standard library's server).

Safe for a machine with other people's web pages open in its browser: it listens on 127.0.0.1 only,
answers only requests whose Host header names 127.0.0.1, localhost or [::1] with the served port (a
DNS-rebinding page reaches 127.0.0.1 under its own host name, and gets 403), serves files of the
site folder only (the standard handler's path translation refuses `..`, absolute and encoded
traversals), and sends the pages' Content-Security-Policy as a header too. Under a burst it keeps up:
one daemon thread per connection and a real listen backlog (the standard library's 5 refused
connections at 200 at once), and a browser that drops a connection mid-answer costs no traceback.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"  # never all interfaces: the store's problems and model outputs are not for the network
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
BACKLOG = 1024  # pending connections the kernel keeps (capped by net.core.somaxconn)
IDLE_SECONDS = 30  # a connection that sends nothing for this long is closed (no thread held forever)
# The pages' own policy (static/*.html), plus what only a header can say: no framing by other sites.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# A client that goes away mid-answer: normal for browsers (a page left, a reload), not an error.
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _SiteHandler(SimpleHTTPRequestHandler):
    timeout = IDLE_SECONDS
    allowed_hosts: frozenset[str] = frozenset()

    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        pass  # one line per request would bury the URL the stage printed

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        if host in self.allowed_hosts:
            return True
        self.send_error(403, "Forbidden: this server answers only to 127.0.0.1, localhost or [::1] on its port")
        return False

    def do_GET(self):  # noqa: N802 - the standard library's name
        if self._host_ok():
            super().do_GET()

    def do_HEAD(self):  # noqa: N802 - the standard library's name
        if self._host_ok():
            super().do_HEAD()

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()


class SiteServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a real backlog and quiet client disconnects."""

    request_queue_size = BACKLOG
    daemon_threads = True  # Ctrl-C never waits for a slow client
    block_on_close = False

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, DISCONNECTS):
            return
        # Anything else is ours to know about, in one line rather than the standard traceback.
        print(f"[view] request from {client_address[0]}:{client_address[1]} failed: "
              f"{type(err).__name__}: {err}", file=sys.stderr, flush=True)


def make_server(directory: Path, port: int) -> SiteServer:
    """A server for `directory` on 127.0.0.1:`port` (0: a free port; read `server_address`);
    benchmarks/view_serve.py measures it under a burst."""
    handler = type("SiteHandler", (_SiteHandler,), {})  # its own class: allowed_hosts is per server
    try:
        server = SiteServer((HOST, port), functools.partial(handler, directory=str(directory)))
    except OSError as err:
        raise OSError(f"view.port={port}: cannot listen on {HOST}:{port} ({err.strerror}); choose another "
                      "port or view.port=0 for a free one") from None
    served = server.server_address[1]
    # A browser leaves the port out of Host only when it is the scheme's default.
    handler.allowed_hosts = frozenset(f"{name}:{served}" for name in LOCAL_NAMES) | (
        frozenset(LOCAL_NAMES) if served == 80 else frozenset())
    return server


def serve(directory: Path, port: int, announce: Callable[[str], None] | None = None) -> None:
    """Serve `directory` until Ctrl-C; `announce` gets the URL once the socket listens."""
    announce = announce or (lambda line: print(line, flush=True))
    server = make_server(directory, port)
    url = f"http://{HOST}:{server.server_address[1]}/index.html"
    announce(f"[view] serving {directory} at {url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        announce("[view] stopped")
    finally:
        server.server_close()
