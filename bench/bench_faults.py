"""Two hostile floods against a real `kadr serve` on loopback; prints JSON.

    python bench/bench_faults.py                  # 300 slow clients, 3000 unknown methods
    python bench/bench_faults.py --slow 300 --methods 3000 --header-timeout 2

1. **Slow clients**: ``--slow`` connections each send half a request's headers and then nothing (the
   slow-loris pattern). Reported: how many the server still holds ``--header-timeout`` + 1 s later
   (target 0), and the latency of /healthz, probed sequentially while they are held.
2. **Unknown methods**: ``--methods`` requests, each with a new HTTP method (``M0000X``, ``M0001X`` ...),
   on a few keep-alive connections, as an unauthenticated client could send them. Reported: the size of
   /metrics before and after (the same order of magnitude: labels come from a fixed set), the server's
   resident memory before and after, and /healthz latency during the flood.

The server runs with no workers (nothing here needs a generation) and a per-address connection cap high
enough that the slow clients reach the header timeout rather than the cap (the cap is tested in
tests/test_service_faults.py). Bounded: at most ``--slow`` sockets and ``--methods`` requests, each
phase at most a few seconds past its timeout; loopback only. Timings on a loaded shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent


def start_server(data: Path, header_timeout: float) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env.update({"PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore", "KADR_HOME": str(data / "home"),
                "KADR_TIMEOUT_HEADERS_S": str(header_timeout), "KADR_MAX_CONNECTIONS_PER_CLIENT": "0",
                "KADR_HEALTH_CACHE_S": "1"})
    log = open(data / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "kadr", "serve", "--port", "0", "--workers", "0", "--data",
                             str(data), "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://[\d.]+:\d+)", (data / "serve.log").read_text())
        if match:
            url = match.group(1)
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"kadr serve did not start:\n{(data / 'serve.log').read_text()[-3000:]}")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class HealthProbe(threading.Thread):
    """/healthz one request after another (a new connection each, as a load balancer does) until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.perf_counter()
            try:
                code = httpx.get(self.url + "/healthz", timeout=10).status_code
                self.statuses[code] = self.statuses.get(code, 0) + 1
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                self.errors += 1
            self._halt.wait(0.02)

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join()
        return {"requests": len(self.latencies_ms), "errors": self.errors, "statuses": self.statuses,
                "p50_ms": _round(percentile(self.latencies_ms, 0.5)),
                "p99_ms": _round(percentile(self.latencies_ms, 0.99)),
                "max_ms": _round(max(self.latencies_ms) if self.latencies_ms else None)}


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def still_open(sock: socket.socket) -> bool:
    """True when the server has not closed ``sock`` (no EOF, no reply waiting)."""
    sock.setblocking(False)
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return True
    except OSError:
        return False
    if not data:
        return False
    try:  # a 408 was sent: closed right after it
        return sock.recv(65536) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def slow_clients(url: str, count: int, header_timeout: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    probe = HealthProbe(url)
    sockets = []
    opened_at = time.monotonic()
    try:
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: kadr\r\nx-slow: ")
            sockets.append(sock)
        probe.start()
        time.sleep(max(0.0, header_timeout + 1.0 - (time.monotonic() - opened_at)))
        health = probe.stop()
        held = sum(still_open(s) for s in sockets)
        return {"connections": count, "header_timeout_s": header_timeout,
                "held_open_after_timeout": held, "healthz_during": health}
    finally:
        for sock in sockets:
            sock.close()


def unknown_methods(url: str, pid: int, count: int) -> dict[str, Any]:
    metrics_before = len(httpx.get(url + "/metrics", timeout=30).content)
    rss_before = rss_kb(pid)
    probe = HealthProbe(url)
    probe.start()
    started = time.perf_counter()
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            code = client.request(f"M{i:04d}X", "/v1/videos" if i % 2 else f"/v1/no-such-{i}").status_code
            statuses[code] = statuses.get(code, 0) + 1
    elapsed = time.perf_counter() - started
    health = probe.stop()
    scrape_started = time.perf_counter()
    metrics_after = len(httpx.get(url + "/metrics", timeout=30).content)
    scrape_ms = (time.perf_counter() - scrape_started) * 1000
    return {"requests": count, "seconds": round(elapsed, 2), "statuses": statuses,
            "metrics_bytes_before": metrics_before, "metrics_bytes_after": metrics_after,
            "metrics_scrape_ms_after": round(scrape_ms, 1),
            "server_rss_kb_before": rss_before, "server_rss_kb_after": rss_kb(pid), "healthz_during": health}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=300, help="slow-client connections (at most 1000)")
    parser.add_argument("--methods", type=int, default=3000, help="requests with unknown methods (at most 20000)")
    parser.add_argument("--header-timeout", type=float, default=2.0, help="the server's timeout_headers_s")
    args = parser.parse_args()
    if not 1 <= args.slow <= 1000 or not 1 <= args.methods <= 20000:
        raise SystemExit("--slow: 1 to 1000; --methods: 1 to 20000")
    data = Path(tempfile.mkdtemp(prefix="kadr-bench-faults-"))
    proc, url = start_server(data, args.header_timeout)
    result: dict[str, Any] = {}
    try:
        result = {"slow_clients": slow_clients(url, args.slow, args.header_timeout),
                  "unknown_methods": unknown_methods(url, proc.pid, args.methods),
                  "note": "loopback, no workers; timings from a shared, loaded machine are noisy"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            result_code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            result_code = None
        shutil.rmtree(data, ignore_errors=True)
    result["server_exit_code"] = result_code
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
