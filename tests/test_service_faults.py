"""Faults done to a live `kadr serve` on loopback: full disks, a read-only folder, killed workers, a
database restarted under a running job, slow and hostile clients, a shutdown.

Every case checks the same four things: no job stuck (each ends, or waits visibly and then ends), no
charge lost or doubled (the usage ledger), a truthful /healthz, and recovery without a restart.

Disks are real: small tmpfs mounts this module makes and removes (the tests run as root, as .ci/run
does). Filling one means writing a filler file until ENOSPC; freeing it, deleting the filler.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from conftest import KadrServer, PostgresServer, _as_postgres, postgres_bindir, wait_until
from prometheus_client.parser import text_string_to_metric_families

from kadr.service.store import Database, JobStore, UserStore

# The built-in model's smallest settings: a 1 s clip in about a second.
TINY = {"prompt": "a red ball rolls on the grass", "seconds": "1", "quality": "fast", "size": "32x32", "fps": 8}
# Long enough to act on while it runs (several seconds of denoising), short enough for the suite.
SLOW = {"prompt": "sea waves at sunset, slow pan", "seconds": "10", "quality": "high", "size": "256x144", "fps": 8}

FAST_FAULTS = {  # what makes faults show quickly: short retry, reconcile and health cache periods
    "KADR_PROGRESS_INTERVAL_S": "0.05", "KADR_RECORD_RETRY_S": "0.2", "KADR_RECONCILE_INTERVAL_S": "0.5",
    "KADR_HEALTH_CACHE_S": "0", "KADR_MIN_FREE_DISK_MB": "1",
}


# ---- disks ----------------------------------------------------------------------------------------


@contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` at ``path``, unmounted (and removed) at the end."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"the fault tests mount a tmpfs (they run as root, as .ci/run does): {mounted.stderr.strip()}",
                    pytrace=False)
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> None:
    """Write a filler file until the disk is full (ENOSPC); a disk already full is left as it is."""
    chunk = b"\0" * 65536
    try:
        f = open(disk / "filler", "ab")
    except OSError as exc:  # no room even to create the file: the disk is full already
        assert exc.errno == errno.ENOSPC, exc
        return
    with f:
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    try:  # what is left of the last page
        with open(disk / "filler2", "ab") as f:
            while True:
                f.write(b"\0" * 512)
                f.flush()
    except OSError:
        pass


def free(disk: Path) -> None:
    for name in ("filler", "filler2"):
        (disk / name).unlink(missing_ok=True)


def remount(disk: Path, mode: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        holders = [f"{fd} -> {os.readlink(fd)}" for fd in Path("/proc").glob("[0-9]*/fd/*")
                   if _points_into(fd, disk)]
        pytest.fail(f"remount,{mode} {disk}: {done.stderr.strip()}; open there: {holders}", pytrace=False)


def _points_into(fd: Path, disk: Path) -> bool:
    try:
        return os.readlink(fd).startswith(str(disk))
    except OSError:
        return False


# ---- the service ------------------------------------------------------------------------------------


class Client:
    """One user's view of the server, plus the store behind it (for the ledger)."""

    def __init__(self, server: KadrServer, store_url: str, plan: str = "tester") -> None:
        self.server = server
        self.store = Database(store_url)
        made = UserStore(self.store).add("u" + uuid.uuid4().hex[:10], plan, time.time())
        self.user_id = made.user.id
        self.http = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {made.api_key}"}, timeout=30)

    def reconnect(self) -> None:
        """New connections to the store and the server (after either was restarted)."""
        headers = self.http.headers
        self.close()
        self.store = Database(self.store.url)
        self.http = httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/videos", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def video(self, video_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/videos/{video_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_running(self, video_id: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            video = self.video(video_id)
            assert video["status"] in ("queued", "in_progress"), video
            return video if video["status"] == "in_progress" else None

        return wait_until(probe, 60, f"{video_id} to start")

    def wait_end(self, video_id: str, timeout: float = 90) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            video = self.video(video_id)
            return video if video["status"] in ("completed", "failed") else None

        return wait_until(probe, timeout, f"{video_id} to end")

    def ledger(self, video_id: str) -> list[tuple[str, int]]:
        return [(e.kind, e.videos) for e in JobStore(self.store).ledger(job_id=video_id)]

    def close(self) -> None:
        self.http.close()
        self.store.close()


def health(server: KadrServer) -> tuple[int, dict[str, Any]]:
    response = httpx.get(server.url + "/healthz", timeout=30)
    return response.status_code, response.json()


def wait_health(server: KadrServer, status: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        code, body = health(server)
        assert code == (503 if body["status"] == "down" else 200), (code, body)
        return body if body["status"] == status else None

    return wait_until(probe, timeout, f"/healthz to say {status}")


def health_gauges(server: KadrServer) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["status"]: s.value for s in families["kadr_health_status"].samples}


def job_files(server: KadrServer, video_id: str, videos_dir: Path | None = None) -> list[str]:
    folder = (videos_dir or server.data / "videos") / video_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_no_active_jobs(store_url: str) -> None:
    db = Database(store_url)
    try:
        counts = JobStore(db).count_by_status()
        assert counts.get("running", 0) == 0 and counts.get("queued", 0) == 0, counts
    finally:
        db.close()


def stopped(server: KadrServer) -> None:
    server.stop()
    if server.process is not None and server.process.returncode not in (0, None):
        print(server.log())


# ---- the pieces, in process ---------------------------------------------------------------------------


def test_key_like_query_parameters_are_redacted_and_methods_fold_into_a_fixed_set() -> None:
    from kadr.service.http_guard import redact_query
    from kadr.service.metrics import method_label

    assert redact_query("/v1/videos?api_key=sk-1&limit=2") == "/v1/videos?api_key=REDACTED&limit=2"
    assert redact_query("/v1/videos?Token=a&access_token=b&after=video_1") == \
        "/v1/videos?Token=REDACTED&access_token=REDACTED&after=video_1"
    assert redact_query("/v1/videos?limit=2&order=asc") == "/v1/videos?limit=2&order=asc"
    assert redact_query("/v1/videos?kadr-AbCdEf0123456789") == "/v1/videos?REDACTED="  # a bare key
    assert redact_query("/v1/videos?q=kadr-AbCdEf0123456789&x=1") == "/v1/videos?q=REDACTED&x=1"  # a key by value
    assert redact_query("/v1/videos?debug") == "/v1/videos?debug"
    assert redact_query("/healthz") == "/healthz"
    assert [method_label(m) for m in ("GET", "DELETE", "get", "M0001X", "PROPFIND")] == \
        ["GET", "DELETE", "OTHER", "OTHER", "OTHER"]


# ---- the job store's disk fills up ------------------------------------------------------------------


@pytest.mark.slow
def test_store_disk_full_outcome_waits_then_is_recorded_or_failed_and_refunded(tmp_path: Path, plans_file: Path) -> None:
    # 16 MB: the store's SQLite WAL grows to about 4 MB between checkpoints, and on a 6 MB disk it once took all the
    # room freed after the first fill (CI: the second fill could not even create its file).
    with tmpfs(tmp_path / "storedisk", 16) as disk:
        store_url = f"sqlite:///{disk / 'kadr.db'}"
        server = KadrServer(tmp_path / "data", db=store_url, plans=plans_file,
                            env={**FAST_FAULTS, "KADR_RECORD_DEADLINE_S": "4"})
        server.start(timeout=180)
        user = Client(server, store_url, plan="one_at_a_time")  # one job at a time: a stuck job blocks them
        other = Client(server, store_url)
        try:
            assert wait_health(server, "ok")["reasons"] == []

            # 1. The disk fills while a job runs; space comes back within the deadline: the video is kept.
            first = user.submit(SLOW)
            user.wait_running(first["id"])
            fill(disk)
            body = wait_health(server, "down")
            assert any("job store cannot be written" in r and "full" in r for r in body["reasons"]), body
            assert health_gauges(server)["down"] == 1.0
            refused = other.http.post("/v1/videos", json=TINY)  # a clear 503 in OpenAI's shape, not a 500
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["code"] == "store_unavailable"
            assert "full" in error["message"]
            # The video is made while the store cannot say so: the job waits as running, its files complete.
            wait_until(lambda: job_files(server, first["id"]) == ["sprites.jpg", "video.mp4", "video.png"], 60,
                       "the first video's files")
            wait_until(lambda: any("wait for the store" in r for r in health(server)[1]["reasons"]), 30,
                       "/healthz to report the unrecorded outcome")
            assert user.video(first["id"])["status"] == "in_progress"
            time.sleep(1.0)
            free(disk)
            done = user.wait_end(first["id"], 30)
            assert done["status"] == "completed" and done["attempts"] == 1, done  # recorded, not made again
            assert user.ledger(first["id"]) == [("charge", 1)]
            content = user.http.get(f"/v1/videos/{first['id']}/content")
            assert content.status_code == 200 and content.content[4:8] == b"ftyp"
            wait_health(server, "ok")

            # 2. The disk stays full past the deadline: the video goes, the job fails, refunded once writable.
            second = user.submit(SLOW)
            user.wait_running(second["id"])
            fill(disk)
            wait_until(lambda: job_files(server, second["id"]) == ["sprites.jpg", "video.mp4", "video.png"], 60,
                       "the second video's files")
            time.sleep(4.5)  # past KADR_RECORD_DEADLINE_S
            assert user.video(second["id"])["status"] == "in_progress"  # nothing can be written yet
            free(disk)
            failed = user.wait_end(second["id"], 30)
            assert failed["status"] == "failed" and failed["error"]["code"] == "store_unwritable", failed
            assert "could not record it" in failed["error"]["message"]
            assert user.ledger(second["id"]) == [("charge", 1), ("refund", -1)]
            wait_until(lambda: job_files(server, second["id"]) == [], 10, "the failed job's files to go")

            # 3. The user's one slot is free again, without a restart.
            third = user.submit(TINY)
            assert user.wait_end(third["id"])["status"] == "completed"
            assert user.ledger(third["id"]) == [("charge", 1)]
            assert wait_health(server, "ok")["reasons"] == []
            assert_no_active_jobs(store_url)
        finally:
            free(disk)
            user.close()
            other.close()
            stopped(server)


# ---- the worker's own error paths, in process -------------------------------------------------------


class _BrokenFolderEngine:
    """Writes a partial file into the job's folder, then fails as a folder turned read-only would."""

    def __init__(self, disk: Path) -> None:
        self.disk = disk

    def generate(self, request: Any, path: Path, **_: Any) -> Any:
        (path.parent / ".video.mp4.part").write_bytes(b"half a video")
        remount(self.disk, "ro")
        raise OSError(errno.EROFS, "Read-only file system", str(path.parent / ".video.mp4.part"))


def test_a_clean_up_that_fails_is_logged_and_the_job_fails_once_naming_the_folder(tmp_path: Path, caplog) -> None:
    from kadr.engine import Engine
    from kadr.request import VideoRequest
    from kadr.service.generation import JobError, RunJob, run_job
    from kadr.service.jobspec import JobSpec

    with tmpfs(tmp_path / "videos", 1) as disk:
        request = VideoRequest(prompt="a cat", duration=1.0, aspect="1:1", model="kadr-tiny", seed=1)
        job = RunJob("video_x", 1, JobSpec.of(request, Engine().plan(request)), str(disk / "video_x"))
        result = run_job(_BrokenFolderEngine(disk), job, lambda message: None, __import__("threading").Event())
        assert isinstance(result, JobError) and result.code == "output_unwritable", result
        assert str(disk / "video_x") in result.message and "Read-only file system" in result.message
        assert "could not remove" in caplog.text  # the clean-up failed too (EROFS): logged, not raised
        assert (disk / "video_x" / ".video.mp4.part").exists()
        remount(disk, "rw")


# ---- the data disk: full, read-only; workers killed; a job with no worker -----------------------------


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, plans_file: Path) -> Iterator[tuple[KadrServer, Path, str]]:
    """A server (SQLite) whose videos folder is a 8 MB tmpfs, with short timeouts for the client tests."""
    root = tmp_path_factory.mktemp("faulty")
    store_url = f"sqlite:///{root / 'kadr.db'}"
    with tmpfs(root / "data" / "videos", 8) as disk:
        server = KadrServer(root / "data", db=store_url, plans=plans_file,
                            extra_args=["--access-log", "--log-level", "info"],
                            env={**FAST_FAULTS, "KADR_TIMEOUT_HEADERS_S": "1", "KADR_TIMEOUT_BODY_S": "1",
                                 "KADR_TIMEOUT_KEEP_ALIVE_S": "1", "KADR_MAX_CONNECTIONS_PER_CLIENT": "40",
                                 "KADR_SHUTDOWN_GRACE_S": "60", "KADR_SSE_KEEPALIVE_S": "120"})
        server.start(timeout=180)
        try:
            yield server, disk, store_url
        finally:
            free(disk)
            stopped(server)


def worker_pids(server: KadrServer) -> set[int]:
    assert server.process is not None
    found = set()
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.add(int(pid))
    return found


@pytest.mark.slow
def test_data_disk_full_then_read_only_fail_jobs_once_and_recover(faulty) -> None:
    server, disk, store_url = faulty
    user = Client(server, store_url)
    videos = server.data / "videos"
    try:
        wait_health(server, "ok")
        workers = worker_pids(server)

        fill(disk)  # full: the encoder's writes fail with ENOSPC
        body = wait_health(server, "degraded")
        assert any(f"free under {videos}" in r for r in body["reasons"]), body
        full = user.wait_end(user.submit(TINY)["id"])
        assert full["status"] == "failed" and full["error"]["code"] == "output_unwritable", full
        assert str(videos / full["id"]) in full["error"]["message"]
        assert "No space left on device" in full["error"]["message"]
        assert user.ledger(full["id"]) == [("charge", 1), ("refund", -1)]
        assert job_files(server, full["id"]) == []  # nothing left behind, not even a finished file
        free(disk)
        wait_health(server, "ok")

        remount(disk, "ro")  # read-only: the job's folder cannot even be made
        body = wait_health(server, "degraded")
        assert any(f"videos folder {videos} cannot be written" in r and "Read-only" in r for r in body["reasons"])
        read_only = user.wait_end(user.submit(TINY)["id"])
        assert read_only["status"] == "failed" and read_only["error"]["code"] == "output_unwritable", read_only
        assert str(videos / read_only["id"]) in read_only["error"]["message"]
        assert "Read-only file system" in read_only["error"]["message"]
        assert user.ledger(read_only["id"]) == [("charge", 1), ("refund", -1)]
        remount(disk, "rw")
        wait_health(server, "ok")

        # The same worker did both (no crash, no restart), and the service works again.
        assert worker_pids(server) == workers and "exited" not in server.log()
        video = user.wait_end(user.submit(TINY)["id"])
        assert video["status"] == "completed" and video["attempts"] == 1
        assert job_files(server, video["id"]) == ["sprites.jpg", "video.mp4", "video.png"]
        assert_no_active_jobs(store_url)
    finally:
        free(disk)
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], capture_output=True)
        user.close()


@pytest.mark.slow
def test_a_killed_worker_and_a_job_with_no_worker_are_both_recovered_without_a_restart(faulty) -> None:
    server, _, store_url = faulty
    user = Client(server, store_url)  # plan tester: one job of theirs runs at a time, the next waits
    db = Database(store_url)
    try:
        wait_health(server, "ok")
        first = user.submit(SLOW)
        second = user.submit(TINY)
        user.wait_running(first["id"])
        assert user.video(second["id"])["status"] == "queued"
        # A job the store calls running that no worker runs (as a lost report would leave it).
        orphan = JobStore(db).claim_next(time.time(), lambda plan: 99)
        assert orphan is not None and orphan.id == second["id"] and orphan.status == "running"
        wait_until(lambda: user.video(second["id"])["status"] == "queued", 10, "reconciliation to re-queue it")

        wait_until(lambda: user.video(first["id"])["progress"] > 0, 60, "the first job to make progress")
        (worker,) = worker_pids(server)
        os.kill(worker, signal.SIGKILL)
        done = user.wait_end(first["id"])
        assert done["status"] == "completed" and done["attempts"] == 2, done  # re-run after the crash
        later = user.wait_end(second["id"])
        assert later["status"] == "completed" and later["attempts"] == 2, later
        for video in (done, later):
            assert user.ledger(video["id"]) == [("charge", 1)]  # once each, whatever happened
        assert job_files(server, first["id"]) == ["sprites.jpg", "video.mp4", "video.png"]
        assert wait_health(server, "ok")["workers"]["ready"] == 1
        assert_no_active_jobs(store_url)
    finally:
        db.close()
        user.close()


# ---- slow and hostile clients ---------------------------------------------------------------------------


def _host_port(server: KadrServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)  # raises socket.timeout if the server keeps the connection
        if not chunk:
            return data
        data += chunk


def refused_counts(server: KadrServer) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    family = families.get("kadr_connections_refused")
    return {s.labels["reason"]: s.value for s in family.samples if s.name.endswith("_total")} if family else {}


@pytest.mark.slow
def test_slow_clients_are_cut_off_and_one_address_cannot_hold_every_connection(faulty) -> None:
    server, _, store_url = faulty
    user = Client(server, store_url)
    key = user.http.headers["authorization"].encode()
    user.close()
    address = _host_port(server)
    before = refused_counts(server)
    silent = [socket.create_connection(address) for _ in range(8)]
    half_headers = [socket.create_connection(address) for _ in range(8)]
    half_body = [socket.create_connection(address) for _ in range(8)]
    keep_alive = socket.create_connection(address)
    try:
        for sock in half_headers:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: kadr\r\nx-slow: ")
        for sock in half_body:
            sock.sendall(b"POST /v1/videos HTTP/1.1\r\nhost: kadr\r\ncontent-type: application/json\r\n"
                         b"authorization: " + key + b"\r\ncontent-length: 1000\r\n\r\n{\"prompt\": ")
        keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nhost: kadr\r\n\r\n")
        code, _ = health(server)  # the server answers while they hang
        assert code == 200
        # Each is closed by the server (1 s limits; 10 s is only the safety net of the read).
        for sock in silent + half_headers:
            answer = _read_until_closed(sock, 10)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer
        for sock in half_body:
            assert _read_until_closed(sock, 10).startswith(b"HTTP/1.1 408 ")
        first = _read_until_closed(keep_alive, 10)  # one answer, then closed when idle
        assert first.startswith(b"HTTP/1.1 200 ") and first.count(b"HTTP/1.1") == 1
        after = refused_counts(server)
        assert after.get("header_timeout", 0) - before.get("header_timeout", 0) >= 16
        assert after.get("body_timeout", 0) - before.get("body_timeout", 0) >= 8
    finally:
        for sock in silent + half_headers + half_body + [keep_alive]:
            sock.close()

    held = [socket.create_connection(address) for _ in range(45)]  # the cap is 40 per address
    try:
        answers = []
        for sock in held:
            sock.settimeout(0.3)
            try:
                answers.append(sock.recv(4096))
            except socket.timeout:
                answers.append(b"")
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
        assert 5 <= len(refused) <= 7, answers  # 45 - 40, give or take a probe connection of the test's own
        assert b"too_many_connections" in refused[0]
    finally:
        for sock in held:
            sock.close()
    assert wait_until(lambda: health(server)[0] == 200, 10, "the server to answer after the flood")


@pytest.mark.slow
def test_unknown_methods_do_not_grow_metrics_and_keys_stay_out_of_the_access_log(faulty) -> None:
    server, _, _ = faulty
    size_before = len(httpx.get(server.url + "/metrics", timeout=30).content)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for i in range(300):
            response = client.request(f"M{i:04d}X", f"/v1/unknown-{i}" if i % 2 else "/v1/videos")
            assert response.status_code in (401, 404, 405), response.text
        secret = "sk-kadr-" + uuid.uuid4().hex
        client.get(f"/v1/models?api_key={secret}&limit=2&token={secret}x")
    scrape = httpx.get(server.url + "/metrics", timeout=30)
    assert len(scrape.content) - size_before < 6000, (size_before, len(scrape.content))  # a few new series, not 300
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    methods = {s.labels["method"] for s in families["kadr_http_requests"].samples}
    routes = {s.labels["route"] for s in families["kadr_http_requests"].samples}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"} and "OTHER" in methods
    assert not any("unknown-" in r for r in routes) and "<unmatched>" in routes
    wait_until(lambda: "/v1/models?" in server.log(), 10, "the access log line")
    log = server.log()
    assert secret not in log and "api_key=REDACTED" in log and "token=REDACTED" in log and "limit=2" in log


# ---- shutdown ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_lets_the_running_job_finish_closes_event_streams_and_exits_0(faulty) -> None:
    server, _, store_url = faulty  # the last test of this server: it stops it
    user = Client(server, store_url)
    try:
        video = user.submit(SLOW)
        user.wait_running(video["id"])
        stream = httpx.Client(base_url=server.url, headers=user.http.headers, timeout=httpx.Timeout(30, read=60))
        with stream.stream("GET", "/v1/events") as events:
            lines = events.iter_lines()
            assert next(lines).startswith("retry:")
            assert server.process is not None
            signaled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            rest = list(lines)  # ends when the server closes the stream (keep-alive comments: every 120 s)
            closed_after = time.monotonic() - signaled
        stream.close()
        assert closed_after < 30, closed_after  # promptly, not after a keep-alive period or the job
        assert all(not line.startswith("data:") or video["id"] in line for line in rest)
        assert server.process.wait(timeout=90) == 0
        db = Database(store_url)
        try:
            record = JobStore(db).get(video["id"])
            assert record is not None and record.status == "succeeded" and record.attempt == 1, record
            assert [(e.kind, e.videos) for e in JobStore(db).ledger(job_id=video["id"])] == [("charge", 1)]
        finally:
            db.close()
        assert "draining: no new jobs start; 1 running" in server.log()  # it was running at the signal
        assert "handed" not in server.log()  # and finished within the grace period
    finally:
        user.close()


# ---- PostgreSQL stopped and started again under a running job ------------------------------------------


def _stop_postgres(pg: PostgresServer) -> None:
    """Fast shutdown of the session's PostgreSQL (SIGINT to the postmaster itself)."""
    pid = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGINT)
    pg.process.wait(timeout=30)


def _start_postgres(pg: PostgresServer) -> None:
    """The same server again: same data, same port (the fixture's teardown stops this process)."""
    import psycopg

    log = open(pg.root / "postgres.log", "a")
    pg.process = subprocess.Popen(
        _as_postgres([str(postgres_bindir() / "postgres"), "-D", str(pg.root / "data"), "-p", str(pg.port),
                      "-k", str(pg.root), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                      "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"]),
        stdout=log, stderr=subprocess.STDOUT)
    log.close()

    def accepting() -> bool:
        try:
            psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres", connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            assert pg.process.poll() is None, (pg.root / "postgres.log").read_text()[-2000:]
            return False

    wait_until(accepting, 30, "PostgreSQL to accept connections again")


@pytest.mark.slow
def test_postgres_restarted_under_a_running_job_then_a_short_grace_hands_the_job_back(
        tmp_path: Path, plans_file: Path, postgres: PostgresServer) -> None:
    store_url = postgres.new_database()
    server = KadrServer(tmp_path / "data", db=store_url, plans=plans_file,
                        env={**FAST_FAULTS, "KADR_SHUTDOWN_GRACE_S": "0.5"})
    server.start(timeout=180)
    user = Client(server, store_url)
    try:
        assert wait_health(server, "ok")["store"] == "postgresql"
        video = user.submit(SLOW)
        user.wait_running(video["id"])
        _stop_postgres(postgres)
        try:
            body = wait_health(server, "down")
            assert any("job store cannot be read" in r for r in body["reasons"]), body
            # The worker finishes the video while the database is away; the outcome waits.
            wait_until(lambda: job_files(server, video["id"]) == ["sprites.jpg", "video.mp4", "video.png"], 60,
                       "the video's files")
            wait_until(lambda: any("wait for the store" in r for r in health(server)[1]["reasons"]), 30,
                       "/healthz to report the unrecorded outcome")
        finally:
            _start_postgres(postgres)
        user.reconnect()
        done = user.wait_end(video["id"], 30)
        assert done["status"] == "completed" and done["attempts"] == 1, done  # recorded, not made again
        assert user.ledger(video["id"]) == [("charge", 1)]
        wait_health(server, "ok")

        # A job the store calls running with no worker (claimed behind the scheduler's back, with
        # PostgreSQL's SKIP LOCKED claim): reconciliation re-queues it; it runs once, charged once.
        blocker = user.submit(SLOW)
        orphaned = user.submit(TINY)
        user.wait_running(blocker["id"])
        claimed = JobStore(user.store).claim_next(time.time(), lambda plan: 99)
        assert claimed is not None and claimed.id == orphaned["id"]
        wait_until(lambda: user.video(orphaned["id"])["status"] == "queued", 10, "reconciliation to re-queue it")
        for job in (blocker, orphaned):
            assert user.wait_end(job["id"])["status"] == "completed"
            assert user.ledger(job["id"]) == [("charge", 1)]

        # SIGTERM with a grace period shorter than the job: it goes back to the queue, its attempt not
        # counted, no refund; the next start runs it once.
        second = user.submit(SLOW)
        user.wait_running(second["id"])
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        record = JobStore(user.store).get(second["id"])
        assert record is not None and record.status == "queued" and record.attempt == 0, record
        assert "handed" in server.log()
        assert user.ledger(second["id"]) == [("charge", 1)]
        server.url = ""  # stopped by hand: KadrServer.start reads the new address from the log
        server.start(timeout=180)
        user.reconnect()
        again = user.wait_end(second["id"])
        assert again["status"] == "completed" and again["attempts"] == 1, again
        assert user.ledger(second["id"]) == [("charge", 1)]
        assert_no_active_jobs(store_url)
    finally:
        if postgres.process.poll() is not None:
            _start_postgres(postgres)
        user.close()
        stopped(server)
