"""Service fixtures: a real PostgreSQL from Debian's package, and real `kadr serve` processes on loopback.

PostgreSQL: Debian's binaries under /usr/lib/postgresql/*/bin (``apt-get install -y postgresql``; .ci/run
does it). initdb + postgres run in a temporary directory on a free 127.0.0.1 port, as the ``postgres``
user when the tests run as root (PostgreSQL refuses root), and are torn down after the session. A
missing binary fails the PostgreSQL tests with that message: they are never skipped.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import httpx
import pytest

import ray_cluster  # noqa: F401  (sets Ray's loopback-only environment before anything imports Ray)

REPO = Path(__file__).resolve().parent.parent

# Plans of the service tests: cheap generations, limits small enough to reach in a test.
TEST_PLANS = """\
default = "tester"

[plans.tester]
concurrency = 1
max_active = 100
requests_per_second = 500.0
burst = 1000
[plans.tester.tiers.fast]
videos = 200
cost = 1
[plans.tester.tiers.high]
videos = 200
cost = 5

[plans.quota4]
concurrency = 1
max_active = 10
requests_per_second = 500.0
burst = 1000
[plans.quota4.tiers.fast]
videos = 4
cost = 10
[plans.quota4.tiers.high]
videos = 0
cost = 50

[plans.quota7]
concurrency = 1
max_active = 10
requests_per_second = 500.0
burst = 1000
[plans.quota7.tiers.fast]
videos = 7
cost = 3
[plans.quota7.tiers.high]
videos = 0
cost = 50

[plans.credits]
monthly_credits = 30
concurrency = 1
max_active = 10
requests_per_second = 500.0
burst = 1000
[plans.credits.tiers.fast]
cost = 20
[plans.credits.tiers.high]
cost = 100

[plans.one_at_a_time]
concurrency = 1
max_active = 1
requests_per_second = 500.0
burst = 1000
[plans.one_at_a_time.tiers.fast]
cost = 1
[plans.one_at_a_time.tiers.high]
cost = 1

[plans.slow_key]
concurrency = 1
max_active = 10
requests_per_second = 0.5
burst = 3
[plans.slow_key.tiers.fast]
cost = 1
[plans.slow_key.tiers.high]
cost = 1
"""


T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` s (a safety net)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- PostgreSQL -----------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("the PostgreSQL store tests need Debian's PostgreSQL: apt-get install -y postgresql "
                    "(.ci/run installs it); no /usr/lib/postgresql/*/bin/initdb here", pytrace=False)
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    port: int
    process: subprocess.Popen
    root: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = "kadr_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="kadr-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    init = subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                        "-E", "UTF8", "--no-sync"]), capture_output=True, text=True)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip()}", pytrace=False)
    port = free_port()
    log = open(root / "postgres.log", "w")
    process = subprocess.Popen(
        _as_postgres([str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=200"]),
        stdout=log, stderr=subprocess.STDOUT)
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", connect_timeout=1).close()
            break
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"PostgreSQL did not start: {(root / 'postgres.log').read_text()[-2000:]}", pytrace=False)
            time.sleep(0.2)
    try:
        yield PostgresServer(port, process, root)
    finally:
        # Fast shutdown: SIGINT to the postmaster itself (runuser does not pass it on).
        pid_file = data / "postmaster.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (OSError, ValueError, IndexError):
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kadr.db'}"
    return request.getfixturevalue("postgres").new_database()


# ---- kadr serve ------------------------------------------------------------------------------------


def kadr_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env.update({"PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1", "KADR_HOME": str(Path(tempfile.gettempdir()) / "kadr-test-home")})
    env.update(extra)
    return env


@dataclass
class KadrServer:
    """One `kadr serve` subprocess. ``db`` None: SQLite in ``data``."""

    data: Path
    db: str | None = None
    workers: int = 1
    plans: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    url: str = ""
    log_path: Path | None = None

    def store_args(self) -> list[str]:
        args = ["--data", str(self.data)]
        if self.db:
            args += ["--db", self.db]
        if self.plans:
            args += ["--plans", str(self.plans)]
        return args

    def start(self, timeout: float = 60.0, wait_workers: bool = True) -> "KadrServer":
        self.data.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data / f"serve-{int(time.time() * 1000)}.log"
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kadr", "serve", "--port", "0", "--workers", str(self.workers), "--log-level",
             "warning", *self.store_args(), *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=kadr_env(**self.env), cwd=self.data)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.url:
            match = re.search(r"listening on (http://[\d.]+:\d+)", self.log_path.read_text())
            if match:
                self.url = match.group(1)
                break
            self._check_alive(deadline)
            time.sleep(0.05)
        while True:
            try:
                health = httpx.get(self.url + "/healthz", timeout=2).json()
                if not wait_workers or health["workers"]["ready"] >= self.workers:
                    return self
            except httpx.HTTPError:
                pass
            self._check_alive(deadline)
            time.sleep(0.1)

    def _check_alive(self, deadline: float) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"kadr serve exited with {self.process.returncode}:\n{self.log()}")
        if time.monotonic() > deadline:
            self.kill9()
            raise RuntimeError(f"kadr serve did not get ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path and self.log_path.exists() else ""

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.url = ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.url = ""

    def add_user(self, name: str, plan: str | None = None, webhook: str | None = None) -> tuple[str, list[str]]:
        """`kadr users add` on this server's store: (API key, all printed lines)."""
        args = ["users", "add", name, *self.store_args()]
        if plan:
            args += ["--plan", plan]
        if webhook:
            args += ["--webhook", webhook]
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        return lines[-1], lines


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kadr", *args], capture_output=True, text=True, env=kadr_env(),
                          timeout=timeout)


@pytest.fixture(scope="session")
def plans_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "plans.toml"
    path.write_text(TEST_PLANS, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, plans_file: Path) -> Iterator[KadrServer]:
    """One `kadr serve` (SQLite, two workers) shared by the API tests; each test makes its own users."""
    server = KadrServer(tmp_path_factory.mktemp("live"), workers=2, plans=plans_file,
                        env={"KADR_WEBHOOK_RETRY_BASE_S": "0.2", "KADR_PROGRESS_INTERVAL_S": "0.05"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def user_factory(live_server: KadrServer) -> Iterator:
    """Make users on the live server straight in its store (the CLI itself is tested separately)."""
    from kadr.service.store import Database, UserStore

    db = Database(f"sqlite:///{live_server.data / 'kadr.db'}")
    users = UserStore(db)

    def make(plan: str = "tester", webhook: str | None = None) -> tuple[str, object]:
        made = users.add("u" + uuid.uuid4().hex[:10], plan, time.time(), webhook_url=webhook)
        return made.api_key, made

    yield make
    db.close()
