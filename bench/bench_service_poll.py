"""Polling latency of GET /v1/videos/{id} while a generation runs, from an open-loop load generator.

    python bench/bench_service_poll.py                       # 200 requests/s, 3 windows of 10 s; prints JSON
    python bench/bench_service_poll.py --rate 200 --seconds 10 --db postgresql://postgres@127.0.0.1:5432/kadr

It starts a real `kadr serve` on 127.0.0.1 (one worker, a fresh data directory), adds a user, submits
a generation long enough to outlast the window and waits until it is generating. Then it sends
requests at a fixed rate whatever the server does (open loop: request i leaves at t0 + i/rate, on
an idle keep-alive connection or a new one), so a slow server cannot slow the load down and hide its
own queueing. Latency is measured from the moment a request was due, not from when it was written,
so queueing inside the generator counts against the server too. The same window is measured first
with no generation running, as the baseline that tells the generation's cost apart from the machine's;
then ``--windows`` windows while the generation runs, and the target is judged on their median p99
(one window can be spoilt by another program on a shared machine; the generator's own lag shows it).

Bounded: at most ``rate * seconds`` requests a window, each window at most ``seconds`` plus ``--timeout`` for
the stragglers; loopback only. The target of issue 5 is p99 < 50 ms at 200 requests a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# Plans for the bench: one key may poll far faster than the default plans allow.
PLANS = """\
default = "bench"
[plans.bench]
concurrency = 1
max_active = 10
requests_per_second = 5000.0
burst = 5000
[plans.bench.tiers.fast]
cost = 1
[plans.bench.tiers.high]
cost = 1
"""
# The video generated during the window: high tier and many frames, so it outlasts the window.
GENERATION = {"prompt": "sea waves at sunset, slow pan to the right", "seconds": "30", "size": "256x144",
              "quality": "high", "seed": 1}


@dataclass
class Window:
    """The outcome of one open-loop window."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    lags_ms: list[float] = field(default_factory=list)  # how late the generator itself sent each request
    connections: int = 0
    elapsed_s: float = 0.0
    server_cpu_s: float = 0.0  # CPU time of the API process (not its workers) during the window

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, rate: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        lags = sorted(self.lags_ms)

        def pct(q: float, values: list[float] = lat) -> float | None:
            return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else None

        return {
            "target_rate": rate,
            "achieved_rate": round(len(lat) / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "sent": self.sent,
            "ok": len(lat),
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1], 2) if lat else None,
            # The generator's own lateness: when it is as large as the latency, the whole machine stalled.
            "generator_p99_lag_ms": pct(0.99, lags),
            "generator_max_lag_ms": round(lags[-1], 2) if lags else None,
            "connections": self.connections,
            "server_cpu_ms_per_request": round(self.server_cpu_s * 1000 / self.sent, 3) if self.sent else None,
            "video_status_seen": self.statuses,
        }


class Connections:
    """Keep-alive HTTP/1.1 connections to one host, handed to one request at a time.

    A connection idle for longer than ``max_idle_s`` is closed rather than reused: uvicorn closes
    idle keep-alive connections after 5 s, and a request written into one of those would fail.
    """

    def __init__(self, host: str, port: int, max_idle_s: float = 4.0) -> None:
        self.host = host
        self.port = port
        self.max_idle_s = max_idle_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.perf_counter()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < self.max_idle_s:
                return reader, writer
            writer.close()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.append((conn[0], conn[1], time.perf_counter()))

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def one_request(pool: Connections, request: bytes, due: float, window: Window, timeout: float) -> None:
    conn = None
    try:
        async with asyncio.timeout(timeout):
            conn = await pool.get()
            reader, writer = conn
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
            body = await reader.readexactly(int(match.group(1))) if match else b""
        done = time.perf_counter()
        if b"connection: close" in head.lower():
            conn[1].close()
        else:
            pool.put(conn)
        conn = None
        if status != 200:
            window.error(f"HTTP {status}")
            return
        window.latencies_ms.append((done - due) * 1000.0)
        video_status = json.loads(body).get("status", "?")
        window.statuses[video_status] = window.statuses.get(video_status, 0) + 1
    except TimeoutError:
        window.error("timeout")
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        window.error(type(exc).__name__)
    finally:
        if conn is not None:
            conn[1].close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its threads included, its children not), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, path: str, key: str, args: argparse.Namespace, server_pid: int) -> Window:
    cpu = cpu_seconds(server_pid)
    window = asyncio.run(open_loop(url, path, key, args.rate, args.seconds, args.timeout))
    window.server_cpu_s = cpu_seconds(server_pid) - cpu
    return window


async def open_loop(url: str, path: str, key: str, rate: float, seconds: float, timeout: float) -> Window:
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
    request = (f"GET {path} HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {key}\r\n"
               "accept: application/json\r\n\r\n").encode()
    pool = Connections(host, int(port))
    window = Window()
    total = int(rate * seconds)
    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        window.lags_ms.append((time.perf_counter() - due) * 1000.0)
        tasks.append(asyncio.create_task(one_request(pool, request, due, window, timeout)))
        window.sent += 1
    await asyncio.gather(*tasks)
    window.elapsed_s = max(seconds, time.perf_counter() - start)
    window.connections = pool.opened
    pool.close()
    return window


def start_server(data: Path, db: str | None, env: dict[str, str]) -> tuple[subprocess.Popen, str, Path]:
    log_path = data / "serve.log"
    args = [sys.executable, "-m", "kadr", "serve", "--port", "0", "--workers", "1", "--log-level", "warning",
            "--data", str(data), "--plans", str(data / "plans.toml")]
    if db:
        args += ["--db", db]
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while True:
        match = re.search(r"listening on (http://[\d.]+:\d+)", log_path.read_text())
        if match:
            url = match.group(1)
            try:
                if httpx.get(url + "/healthz", timeout=2).json()["workers"]["ready"] >= 1:
                    return process, url, log_path
            except httpx.HTTPError:
                pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"kadr serve did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second (fixed, open loop)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each window")
    parser.add_argument("--timeout", type=float, default=5.0, help="a request slower than this is an error")
    parser.add_argument("--db", help="store URL (default: SQLite in the temporary data directory)")
    parser.add_argument("--windows", type=int, default=3, help="windows measured while the generation runs")
    parser.add_argument("--no-baseline", action="store_true", help="skip the window with no generation")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="kadr-bench-"))
    (data / "plans.toml").write_text(PLANS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env.update({"PYTHONWARNINGS": "ignore", "KADR_HOME": str(data / "home")})
    added = subprocess.run([sys.executable, "-m", "kadr", "users", "add", "bench", "--data", str(data),
                            "--plans", str(data / "plans.toml"), *(["--db", args.db] if args.db else [])],
                           capture_output=True, text=True, env=env, check=True)
    key = added.stdout.strip().splitlines()[-1]
    process, url, log_path = start_server(data, args.db, env)
    auth = {"authorization": f"Bearer {key}"}
    result: dict[str, Any] = {"bench": "service_poll", "cpus": os.cpu_count(), "store": "postgresql" if args.db else "sqlite"}
    try:
        with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
            warm = client.post("/v1/videos", json={"prompt": "a red ball", "seconds": "1", "size": "32x32"}).json()
            while client.get(f"/v1/videos/{warm['id']}").json()["status"] not in ("completed", "failed"):
                time.sleep(0.1)
            if not args.no_baseline:
                idle = measure(url, f"/v1/videos/{warm['id']}", key, args, process.pid)
                result["idle"] = idle.summary(args.rate)
            video = client.post("/v1/videos", json=GENERATION).json()
            while (v := client.get(f"/v1/videos/{video['id']}").json())["status"] != "in_progress" or v["progress"] < 1:
                if v["status"] in ("completed", "failed"):
                    raise SystemExit(f"the generation ended before the window: {v}")
                time.sleep(0.05)
            load_before = os.getloadavg()[0]
            windows = []
            for _ in range(args.windows):
                busy = measure(url, f"/v1/videos/{video['id']}", key, args, process.pid)
                windows.append(busy.summary(args.rate))
            result["during_generation"] = windows
            after = client.get(f"/v1/videos/{video['id']}").json()
            result["generation_progress_at_end"] = after["progress"]
            result["generation_status_at_end"] = after["status"]
            result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            client.post(f"/v1/videos/{video['id']}/cancel")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)
    p99s = sorted(w["p99_ms"] for w in result["during_generation"] if w["p99_ms"] is not None)
    result["target_p99_ms"] = 50.0
    result["during_generation_p99_ms"] = {"best": p99s[0], "median": p99s[len(p99s) // 2], "worst": p99s[-1]} if p99s else None
    result["meets_target"] = bool(p99s and p99s[len(p99s) // 2] < 50.0
                                  and all(w["errors"] == 0 and w["achieved_rate"] >= 0.95 * args.rate
                                          for w in result["during_generation"]))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
