"""`kadr serve --ray` against a real Ray cluster on this machine (Ray's multi-node test cluster, loopback).

Driven with the official `openai` client: jobs run on kadr's Ray actors (the Ray state API shows
them and their tasks), cancel stops a running job, and a worker node killed mid-job has its job
completed by an actor on the other node, charged once.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

from conftest import KadrServer, run_cli
from ray_cluster import RAY_LOOPBACK_ENV, ray_cluster

ray = pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
from ray.util.state import list_actors, list_tasks  # noqa: E402

from kadr.service.ray_pool import ACTOR_NAME  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # openai marks the Videos API deprecated
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with ray_cluster(worker_nodes=2) as made:
        yield made


@pytest.fixture(scope="module")
def server(cluster: Any, tmp_path_factory: pytest.TempPathFactory, plans_file: Path) -> Iterator[KadrServer]:
    made = KadrServer(tmp_path_factory.mktemp("ray-serve"), workers=2, plans=plans_file,
                      extra_args=["--ray", cluster.address, "--log-level", "info"],
                      env={**RAY_LOOPBACK_ENV, "KADR_PROGRESS_INTERVAL_S": "0.05"})
    made.start(timeout=240)
    try:
        yield made
    finally:
        made.stop()


def client_for(server: KadrServer) -> openai.OpenAI:
    key, _ = server.add_user("u" + str(time.monotonic_ns())[-9:], plan="tester")
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


def wait_for(client: openai.OpenAI, video_id: str, until: tuple[str, ...] = ("completed", "failed"),
             timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while (video := client.videos.retrieve(video_id)).status not in until:
        assert time.monotonic() < deadline, f"{video_id} still {video.status} after {timeout} s"
        time.sleep(0.1)
    return video


def kadr_actors(cluster: Any) -> list[Any]:
    return [a for a in list_actors(address=cluster.address) if a.class_name == ACTOR_NAME]


def finished_runs(cluster: Any, at_least: int = 0, timeout: float = 30) -> int:
    """Finished ``run`` tasks of kadr's actors, waiting up to ``timeout`` for ``at_least`` of them
    (the state API hears of task events a moment after they happen)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = list_tasks(address=cluster.address, filters=[("name", "=", f"{ACTOR_NAME}.run")], limit=1000)
        finished = sum(t.state == "FINISHED" for t in tasks)
        if finished >= at_least or time.monotonic() > deadline:
            return finished
        time.sleep(0.5)


def node_running(cluster: Any, server: KadrServer, video_id: str, client: openai.OpenAI) -> str:
    """The node of the actor the server sent ``video_id`` to, once the job is past loading. Taken from the
    server's own log line and the actor's name rather than from the state API's RUNNING tasks, which can
    still list an earlier test's finished task for a moment."""
    deadline = time.monotonic() + 120
    while True:
        sent = re.search(rf"job {video_id} to actor (\d+)", server.log())
        if sent and client.videos.retrieve(video_id).progress > 0:
            break
        assert time.monotonic() < deadline, "the job never started on an actor"
        time.sleep(0.2)
    suffix = f"-{sent.group(1)}"
    actor = next(a for a in kadr_actors(cluster) if a.state == "ALIVE" and a.name.endswith(suffix))
    return actor.node_id


def test_jobs_run_on_kadr_actors_one_per_node(cluster: Any, server: KadrServer) -> None:
    actors = [a for a in kadr_actors(cluster) if a.state == "ALIVE"]
    assert len(actors) == 2 and len({a.node_id for a in actors}) == 2  # one actor per CPU slot, on both nodes
    runs_before = finished_runs(cluster)
    client = client_for(server)
    videos = [client.videos.create(prompt=prompt, seconds="2", size="128x72", extra_body={"fps": 8, "seed": 3})
              for prompt in ("Закат над морем, волны", "Night city, lights, static camera")]
    for video in videos:
        done = wait_for(client, video.id)
        assert done.status == "completed", done.error
        data = client.videos.download_content(video.id).content  # came back through Ray: no shared disk
        assert data[4:8] == b"ftyp" and len(data) > 1000
    assert finished_runs(cluster, at_least=runs_before + 2) >= runs_before + 2  # the state API saw kadr's actors do the work
    assert client.get("/usage", cast_to=dict)["tiers"]["fast"]["used"] == 2


def test_cancel_stops_a_running_job_on_an_actor(server: KadrServer) -> None:
    client = client_for(server)
    video = client.videos.create(prompt="Лес, туман, медленный наезд", seconds="12", size="256x144",
                                 extra_body={"quality": "high", "seed": 5})
    wait_for(client, video.id, until=("in_progress", "completed", "failed"))
    while client.videos.retrieve(video.id).progress < 5:  # past loading, inside the denoising loop
        time.sleep(0.1)
    asked = time.monotonic()
    client.post(f"/videos/{video.id}/cancel", cast_to=dict)
    ended = wait_for(client, video.id, timeout=60)
    assert ended.status == "failed" and ended.error.code == "canceled"
    assert ended.model_extra["kadr_status"] == "canceled"
    assert time.monotonic() - asked < 30
    assert client.get("/usage", cast_to=dict)["tiers"]["high"]["used"] == 0  # a canceled job is refunded


def test_a_killed_worker_nodes_job_completes_on_another_charged_once(cluster: Any, server: KadrServer) -> None:
    client = client_for(server)
    video = client.videos.create(prompt="Пляж, волны, камера движется вдоль берега", seconds="8", size="256x144",
                                 extra_body={"quality": "high", "seed": 9})
    node_id = node_running(cluster, server, video.id, client)
    node = next(n for n in cluster.worker_nodes if n.node_id == node_id)
    cluster.remove_node(node)  # its raylet and every worker process on it die, as a lost machine's would

    done = wait_for(client, video.id)
    assert done.status == "completed", done.error
    assert client.get("/usage", cast_to=dict)["tiers"]["high"]["used"] == 1  # charged once, not twice
    assert "re-queued" in server.log() or "lost while running" in server.log()
    alive = [a for a in kadr_actors(cluster) if a.state == "ALIVE"]
    assert alive and all(a.node_id != node_id for a in alive)


def test_an_unreachable_cluster_is_one_clear_error(tmp_path: Path) -> None:
    proc = run_cli("serve", "--port", "0", "--data", str(tmp_path), "--ray", "127.0.0.1:1", timeout=180)
    assert proc.returncode == 2
    assert "cannot reach the Ray cluster at '127.0.0.1:1'" in proc.stderr
