"""kill -9 of `kadr serve` in the middle of a generation, then a restart on the same store.

The job must finish on the next start with exactly one video on disk and exactly one charge in the
usage ledger, whichever store holds the jobs (SQLite in the data directory, or a real PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import KadrServer, wait_until

from kadr.service.store import Database, JobStore


def child_pids(pid: int) -> set[int]:
    """Direct children of ``pid`` (the worker processes and multiprocessing's helpers), from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(p) for p in text)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill9_mid_generation_then_restart_finishes_the_job_once(backend: str, tmp_path: Path, plans_file: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    db = request.getfixturevalue("postgres").new_database() if backend == "postgresql" else None
    server = KadrServer(tmp_path / "data", db=db, workers=1, plans=plans_file,
                        env={"KADR_PROGRESS_INTERVAL_S": "0.05"})
    key, _ = server.add_user("ann")
    server.start()
    headers = {"authorization": f"Bearer {key}"}
    try:
        # Long enough (high tier, many steps) that the kill lands mid-generation.
        created = httpx.post(server.url + "/v1/videos", headers=headers, timeout=30, json={
            "prompt": "sea waves at sunset, slow pan", "seconds": "4", "size": "128x72", "quality": "high",
            "seed": 5})
        assert created.status_code == 200, created.text
        video_id = created.json()["id"]

        def generating() -> bool:
            video = httpx.get(f"{server.url}/v1/videos/{video_id}", headers=headers, timeout=30).json()
            assert video["status"] in ("queued", "in_progress"), video
            return video["status"] == "in_progress" and video["progress"] > 0

        wait_until(generating, 120, "the generation to report progress")
        assert server.process is not None
        workers = child_pids(server.process.pid)
        assert workers  # the worker process (and multiprocessing's resource tracker)
        server.kill9()
        # The workers die with the server (no orphan keeps writing the video).
        wait_until(lambda: not any(alive(p) for p in workers), 30, "the worker processes to exit")

        store = Database(db or f"sqlite:///{server.data / 'kadr.db'}")
        try:
            jobs = JobStore(store)
            interrupted = jobs.get(video_id)
            assert interrupted is not None and interrupted.status == "running" and interrupted.attempt == 1

            server.start()
            final = wait_until(lambda: _finished(server, headers, video_id), 180, "the re-queued job to finish")
            assert final["status"] == "completed" and final["error"] is None, final
            assert final["attempts"] == 2  # the interrupted run, then the one that finished

            files = sorted(p.name for p in (server.data / "videos").rglob("*") if p.is_file())
            assert files == ["sprites.jpg", "video.mp4", "video.png"]  # one video, no leftovers of the killed run
            content = httpx.get(f"{server.url}/v1/videos/{video_id}/content", headers=headers, timeout=30)
            assert content.status_code == 200 and content.content == (server.data / "videos" / video_id / "video.mp4").read_bytes()

            assert [(e.kind, e.videos) for e in jobs.ledger(user_id=interrupted.user_id)] == [("charge", 1)]
            usage = httpx.get(server.url + "/v1/usage", headers=headers, timeout=30).json()
            assert usage["tiers"]["high"]["used"] == 1 and usage["tiers"]["fast"]["used"] == 0
        finally:
            store.close()
    finally:
        server.stop()
        if server.process is not None and server.process.returncode not in (0, None):
            print(server.log())


def _finished(server: KadrServer, headers: dict[str, str], video_id: str) -> dict | None:
    video = httpx.get(f"{server.url}/v1/videos/{video_id}", headers=headers, timeout=30).json()
    return video if video["status"] in ("completed", "failed") else None

