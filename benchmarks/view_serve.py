"""`journeyforge view serve=true` under a burst: N clients at once, each one GET answered in full?

Writes a small real site (the `view` stage on a scripted Countdown run), starts `viewer.serve` in a
child process (as the stage runs it: its own process, its own GIL), then releases N client threads
together (a barrier), each opening its own connection and reading one whole answer (index page, a
tree page, KaTeX's script, a stylesheet, in turn). For the server `view` had before (the standard
library's ThreadingHTTPServer: listen backlog 5, tracebacks on disconnects) and the viewer's
(`viewer.serve.make_server`): answered in full, failed, wall time of the burst, median and slowest
request. Then M clients that reset their connection mid-answer, and the lines the server printed
to stderr meanwhile.

    python benchmarks/view_serve.py [--clients 200] [--drops 100]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from journeyforge.cli import CONF_DIR  # noqa: E402

SERVERS = {
    "before (stdlib)": """
import functools, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
""",
    "viewer.serve": """
import sys
from viewer.serve import make_server
server = make_server(sys.argv[1], 0)
print(server.server_address[1], flush=True)
server.serve_forever()
""",
}


def write_site(root: Path) -> Path:
    from journeyforge.stages import explore, view

    common = [f"store.url=sqlite:///{root / 'traces.db'}", f"workdir={root / 'w'}", "name=bench"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        explore.run(compose(config_name="config", overrides=common + [
            "policy=scripted", "task.n_train=4", "task.n_test=1", "explore.progress=false"]))
        view.run(compose(config_name="config", overrides=common))
    return root / "w" / "view"


def get(port: int, path: str, timeout: float = 30.0) -> tuple[int, int]:
    """(status, body bytes) of one GET on a fresh connection, read to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return int(head.split()[1]), len(body) if len(body) == length else -1


def drop(port: int, path: str) -> None:
    """Ask for `path`, read a little, then reset the connection (SO_LINGER 0) mid-answer."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        s.recv(100)
        s.close()
    except OSError:
        pass  # a server that never answered has nothing to drop


def burst(port: int, paths: list[str], clients: int) -> dict:
    barrier = threading.Barrier(clients)
    times: list[float] = []
    failures: list[str] = []

    def one(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            status, size = get(port, paths[i % len(paths)])
            if status != 200 or size < 0:
                failures.append(f"{status} {size}")
        except OSError as err:
            failures.append(type(err).__name__)
        times.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"answered": clients - len(failures), "failed": len(failures), "wall_s": wall,
            "median_s": statistics.median(times), "slowest_s": max(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--drops", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = write_site(Path(tmp))
        tree = sorted((site / "trees").glob("*.html"))[0].name
        paths = ["/index.html", f"/trees/{tree}", "/assets/vendor/katex/katex.min.js", "/assets/app.css"]
        print(f"\n{args.clients} clients at once, one connection and one GET each ({', '.join(paths)})")
        print(f"{'server':>16} {'answered':>9} {'failed':>7} {'wall s':>7} {'median s':>9} {'slowest s':>10} {'stderr lines':>13}")
        for name, code in SERVERS.items():
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            proc = subprocess.Popen([sys.executable, "-c", code, str(site)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
            try:
                port = int(proc.stdout.readline())
                r = burst(port, paths, args.clients)
                dropper = [threading.Thread(target=drop, args=(port, paths[2])) for _ in range(args.drops)]
                for t in dropper:
                    t.start()
                for t in dropper:
                    t.join()
                status, _ = get(port, "/index.html")  # still up after the drops
                assert status == 200
            finally:
                proc.terminate()
                _, err = proc.communicate(timeout=30)
            lines = len(err.splitlines())
            print(f"{name:>16} {r['answered']:>9} {r['failed']:>7} {r['wall_s']:>7.2f} {r['median_s']:>9.3f} "
                  f"{r['slowest_s']:>10.2f} {lines:>13}")
        print(f"(stderr lines: what the server printed while {args.drops} clients reset their connection mid-answer)")
        print(f"answered={r['answered']}/{args.clients} wall_s={r['wall_s']:.2f} stderr_lines={lines}")


if __name__ == "__main__":
    main()
