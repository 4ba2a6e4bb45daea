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
SLOW = {"prompt": "sea waves at sunset, slow pan", "seconds": "2", "quality": "high", "size": "64x64", "fps": 8}

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
    """Write a filler file until the disk is full (ENOSPC)."""
    chunk = b"\0" * 65536
    with open(disk / "filler", "ab") as f:
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
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


# ---- the service ------------------------------------------------------------------------------------


class Client:
    """One user's view of the server, plus the store behind it (for the ledger)."""

    def __init__(self, server: KadrServer, store_url: str, plan: str = "tester") -> None:
        self.server = server
        self.store = Database(store_url)
        made = UserStore(self.store).add("u" + uuid.uuid4().hex[:10], plan, time.time())
        self.user_id = made.user.id
        self.http = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {made.api_key}"}, timeout=30)

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/videos", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def video(self, video_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/videos/{video_id}").json()

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


# ---- the job store's disk fills up ------------------------------------------------------------------


@pytest.mark.slow
def test_store_disk_full_outcome_waits_then_is_recorded_or_failed_and_refunded(tmp_path: Path, plans_file: Path) -> None:
    with tmpfs(tmp_path / "storedisk", 6) as disk:
        store_url = f"sqlite:///{disk / 'kadr.db'}"
        server = KadrServer(tmp_path / "data", db=store_url, plans=plans_file,
                            env={**FAST_FAULTS, "KADR_RECORD_DEADLINE_S": "4"})
        server.start()
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
