"""Benchmark what a key costs a request: the auth + limit check against ``--no-auth``, same run, paired.

Two ``caretune serve`` subprocesses on loopback ports serve the same model, one with ``--no-auth`` and one
with keys (a database of --keys keys; requests use an app key with a request rate and a daily token budget,
so the key lookup, the rate check, the budget check and the usage count all run). A stdlib client with a
kept-alive connection to each sends the same request to both servers in turn, the order alternating, so
each auth timing has a no-auth timing of moments before or after: the figure is the median over pairs of
(auth - no-auth), with its quartiles. Two requests: ``GET /v1/models`` (no engine: the check is most of the
work) and a 1-token completion (the check before the engine, and the usage count after it).
Target: at most 1 ms added per request.

    flock /work/bench.lock nice -n 10 python bench/auth.py [--model gemma-3-270m] [--requests 2000]
        [--completions 300] [--keys 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_keys(data_dir: Path, count: int) -> str:
    """``count`` keys in the server's database (so the lookup searches a real index); the secret of an app
    key with limits it never reaches, so every check runs and none refuses."""
    from caretune.server.settings import ServerSettings
    from caretune.storage.db import create_all, make_engine, session_factory
    from caretune.storage.keys import KeySpec, create_key

    db = make_engine(ServerSettings(data_dir=data_dir).resolved_database_url())
    create_all(db)
    with session_factory(db)() as session:
        for i in range(count - 1):
            create_key(session, KeySpec(name=f"filler-{i}", role="app"))
        _, secret = create_key(
            session, KeySpec(name="bench", role="app", rate_limit="1000000/s", tokens_per_day=10**12)
        )
    db.dispose()
    return secret


def start_server(model: str, data_dir: Path, port: int, no_auth: bool) -> subprocess.Popen:
    """``caretune serve`` as a user runs it; returns once the server answers."""
    command = [sys.executable, "-c", "from caretune.cli import main; main()", "serve", "--port", str(port),
               "--data-dir", str(data_dir), "--model", model] + (["--no-auth"] if no_auth else [])
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("server did not start")


class Client:
    """One kept-alive connection to a server, sending with or without a key."""

    def __init__(self, port: int, key: str | None) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def time(self, method: str, path: str, body: dict | None = None) -> float:
        """Seconds from sending the request to having read the whole answer (which must be a 200)."""
        payload = json.dumps(body) if body is not None else None
        try:
            return self._timed(method, path, payload)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # uvicorn closes a connection idle for 5 s (while the other server loaded its model): reconnect
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            return self._timed(method, path, payload)

    def _timed(self, method: str, path: str, payload: str | None) -> float:
        start = time.perf_counter()
        self.connection.request(method, path, payload, self.headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 200, data[:300]
        return elapsed


def paired(no_auth: Client, auth: Client, request: Callable[[Client], float], count: int) -> tuple[list, list]:
    """``count`` timings of ``request`` on each server, in pairs whose order alternates."""
    plain, keyed = [], []
    for i in range(count):
        if i % 2:
            keyed.append(request(auth))
            plain.append(request(no_auth))
        else:
            plain.append(request(no_auth))
            keyed.append(request(auth))
    return plain, keyed


def quartiles(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.3f} to {q3:.3f}"


def report(name: str, plain: list[float], keyed: list[float]) -> None:
    ms = [1000 * (k - p) for p, k in zip(plain, keyed)]
    no_auth, auth = 1000 * statistics.median(plain), 1000 * statistics.median(keyed)
    print(f"{name:22} no-auth {no_auth:8.3f} ms   auth {auth:8.3f} ms   ratio {auth / no_auth:5.2f}x   "
          f"auth - no-auth (paired, median) {statistics.median(ms):+.3f} ms (quartiles {quartiles(ms)})   "
          f"n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--requests", type=int, default=2000, help="GET /v1/models pairs")
    parser.add_argument("--completions", type=int, default=300, help="1-token completion pairs")
    parser.add_argument("--keys", type=int, default=1000, help="keys in the auth server's database")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as root:
        dirs = {name: Path(root) / name for name in ("no-auth", "auth")}
        secret = make_keys(dirs["auth"], args.keys)
        ports = {name: free_port() for name in dirs}
        servers = [start_server(args.model, dirs[n], ports[n], no_auth=n == "no-auth") for n in dirs]
        try:
            no_auth, auth = Client(ports["no-auth"], None), Client(ports["auth"], secret)
            completion = {"model": args.model, "prompt": "Customer: hi\nAgent:", "max_tokens": 1, "temperature": 0}
            requests: dict[str, tuple[Callable[[Client], float], int]] = {
                "GET /v1/models": (lambda c: c.time("GET", "/v1/models"), args.requests),
                "POST /v1/completions": (lambda c: c.time("POST", "/v1/completions", completion), args.completions),
            }
            for request, count in requests.values():  # warm-up: connections, the model loaded, caches
                paired(no_auth, auth, request, min(count, 20))
            results = {name: paired(no_auth, auth, request, count) for name, (request, count) in requests.items()}
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)
    print(f"model {args.model}; auth server: {args.keys} keys, an app key with a rate limit and a token budget")
    for name, (plain, keyed) in results.items():
        report(name, plain, keyed)
    print("target: auth - no-auth <= 1 ms per request")


if __name__ == "__main__":
    main()
