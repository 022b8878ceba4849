"""`journeyforge view view.serve=true`: the site over HTTP on 127.0.0.1 (the standard library's server)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"  # never all interfaces: the store's problems and model outputs are not for the network


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's name
        pass  # one line per request would bury the URL the stage printed


def make_server(directory: Path, port: int) -> ThreadingHTTPServer:
    """A server for `directory` on 127.0.0.1:`port` (0: a free port; read `server_address`)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as err:
        raise OSError(f"view.port={port}: cannot listen on {HOST}:{port} ({err.strerror}); choose another "
                      "port or view.port=0 for a free one") from None


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
