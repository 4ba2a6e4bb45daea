"""Two `kadr serve` replicas on one PostgreSQL: what tests/test_service_replicas.py asserts and
bench/bench_replicas.py prints.

Both replicas are real `kadr serve` processes (tests/conftest.py's KadrServer) on one database, each
with its own data folder. Their
leases are short (``LEASE_S``) so that a killed replica's job is taken over within seconds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from conftest import KadrServer

from kadr.service.store import Database, JobStore, UserStore

LEASE_S = 3.0
REPLICA_ENV = {"KADR_LEASE_S": str(LEASE_S), "KADR_RECONCILE_INTERVAL_S": "0.5", "KADR_PROGRESS_INTERVAL_S": "0.05"}

# Small monthly quotas, so that 100 submissions from 10 users race each user's check; one job of a user
# runs at a time (concurrency 1), which the claims of both replicas must respect together.
PLANS = """\
default = "two"

[plans.two]
concurrency = 1
max_active = 10
requests_per_second = 500.0
burst = 1000
[plans.two.tiers.fast]
videos = 2
cost = 1
[plans.two.tiers.high]
videos = 2
cost = 5

[plans.three]
concurrency = 1
max_active = 10
requests_per_second = 500.0
burst = 1000
[plans.three.tiers.fast]
videos = 3
cost = 1
[plans.three.tiers.high]
videos = 2
cost = 5
"""
LIMITS = {"two": 2, "three": 3}
TINY = {"prompt": "a red ball rolls on the grass", "seconds": "1", "size": "32x32", "extra_body": {"fps": 8}}
# Long enough (high tier, 4 s) that a kill lands mid-generation and progress is seen.
SLOW = {"prompt": "sea waves at sunset, slow pan", "seconds": "4", "size": "128x72",
        "extra_body": {"quality": "high", "fps": 8, "seed": 5}}


def start_replicas(root: Path, db_url: str, workers: tuple[int, ...] = (1, 1), extra_env: dict[str, str] | None = None,
                   extra_args: list[str] | None = None) -> list[KadrServer]:
    """One replica per item of ``workers`` (its worker count) on ``db_url``, each with its own data folder (as on
    two machines; on one machine a video's path in the store is readable by both, on several the artifact
    store serves it)."""
    plans = root / "plans.toml"
    plans.write_text(PLANS, encoding="utf-8")
    servers = [KadrServer(root / f"data{i}", db=db_url, workers=count, plans=plans,
                          env={**REPLICA_ENV, **(extra_env or {})}, extra_args=list(extra_args or []))
               for i, count in enumerate(workers)]
    starting = [threading.Thread(target=server.start) for server in servers]  # side by side: each takes seconds
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    for server in servers:
        if not server.url:  # its start raised in the thread (the reason is in its log)
            for other in servers:
                other.stop()
            raise RuntimeError(f"a replica did not start:\n{server.log()}")
    return servers


def replica_prefix(server: KadrServer) -> str:
    """The start of the replica id that ``server`` gives the jobs it claims (kadr.service.scheduler.new_replica_id)."""
    assert server.process is not None
    return f"{socket.gethostname()[:40]}-{server.process.pid}-"


def which_replica(owner: str | None, servers: list[KadrServer]) -> int | None:
    for index, server in enumerate(servers):
        if owner is not None and owner.startswith(replica_prefix(server)):
            return index
    return None


def client(server: KadrServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=120)


def add_users(db_url: str, count: int) -> dict[str, tuple[str, str, int]]:
    """``count`` users, alternately on plans two and three: name -> (plan, API key, user id)."""
    db = Database(db_url)
    try:
        users = UserStore(db)
        made = {}
        for i in range(count):
            plan = "two" if i % 2 == 0 else "three"
            new = users.add(f"rep{i}-{uuid.uuid4().hex[:6]}", plan, time.time())
            made[new.user.name] = (plan, new.api_key, new.user.id)
        return made
    finally:
        db.close()


@dataclass
class Burst:
    """What 100 concurrent submissions through both replicas came to."""

    submissions: int
    accepted: dict[str, list[str]]  # user -> video ids
    refused: dict[str, list[dict[str, Any]]]  # user -> error bodies
    accepted_by_replica: list[int]
    claims_by_replica: list[int] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    charges: dict[str, int] = field(default_factory=dict)  # video id -> charges in the ledger
    refunds: int = 0
    overlapping_runs: int = 0  # pairs of one user's jobs that ran at the same time (concurrency 1)
    seconds_to_all_done: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {"submissions": self.submissions, "accepted": sum(map(len, self.accepted.values())),
                "refused": sum(map(len, self.refused.values())), "accepted_by_replica": self.accepted_by_replica,
                "claims_by_replica": self.claims_by_replica,
                "jobs_run_more_than_once": sum(1 for a in self.attempts.values() if a != 1),
                "jobs_charged_other_than_once": sum(1 for n in self.charges.values() if n != 1),
                "refunds": self.refunds, "overlapping_runs_of_one_user": self.overlapping_runs,
                "seconds_to_all_done": round(self.seconds_to_all_done, 1)}


def burst(servers: list[KadrServer], db_url: str, users: int = 10, per_user: int = 10,
          timeout_s: float = 600) -> tuple[Burst, dict[str, tuple[str, str, int]]]:
    """``users`` x ``per_user`` submissions released together, request i to replica i % len(servers); then
    wait for every accepted video and read back from the store who claimed what and how often it ran."""
    made = add_users(db_url, users)
    answers: list[tuple[str, int, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(users * per_user)

    def submit(name: str, replica: int) -> None:
        api = client(servers[replica], made[name][1])
        barrier.wait()
        try:
            video = api.videos.create(**TINY)
            answer: tuple[str, int, Any] = (name, replica, video.id)
        except openai.RateLimitError as exc:
            answer = (name, -1, exc.body)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=submit, args=(name, (u * per_user + k) % len(servers)))
               for u, name in enumerate(made) for k in range(per_user)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = Burst(len(answers), defaultdict(list), defaultdict(list), [0] * len(servers))
    for name, replica, got in answers:
        if replica >= 0:
            result.accepted[name].append(got)
            result.accepted_by_replica[replica] += 1
        else:
            result.refused[name].append(got)
    ids = [video_id for got in result.accepted.values() for video_id in got]

    db = Database(db_url)
    try:
        jobs = JobStore(db)
        deadline = time.monotonic() + timeout_s
        while True:
            records = [jobs.get(video_id) for video_id in ids]
            if all(r is not None and r.terminal for r in records):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"not every accepted video ended within {timeout_s:g} s: "
                                     f"{[(r.id, r.status) for r in records if r is not None and not r.terminal]}")
            time.sleep(0.25)
        result.seconds_to_all_done = time.monotonic() - started
        with db.connect() as conn:
            from sqlalchemy import select

            from kadr.service.store.schema import JobRow

            rows = conn.execute(select(JobRow.id, JobRow.user_id, JobRow.status, JobRow.owner, JobRow.attempt,
                                       JobRow.started_at, JobRow.completed_at).where(JobRow.id.in_(ids))).all()
        result.claims_by_replica = [sum(1 for r in rows if which_replica(r.owner, servers) == i)
                                    for i in range(len(servers))]
        result.attempts = {r.id: r.attempt for r in rows if r.status == "succeeded"}
        for r in rows:  # a failed job would show here as missing from attempts
            if r.status != "succeeded":
                result.attempts[r.id] = -1
        runs: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for r in rows:
            runs[r.user_id].append((r.started_at, r.completed_at))
        for spans in runs.values():
            spans.sort()
            result.overlapping_runs += sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
        for entry in jobs.ledger():
            if entry.job_id in set(ids):
                if entry.kind == "charge":
                    result.charges[entry.job_id] = result.charges.get(entry.job_id, 0) + 1
                else:
                    result.refunds += 1
    finally:
        db.close()
    return result, made


def events_of(server: KadrServer, key: str, video_id: str, timeout_s: float = 180) -> list[dict[str, Any]]:
    """Every video object the replica ``server`` streams for ``video_id`` until its final one."""
    seen = []
    with httpx.stream("GET", f"{server.url}/v1/videos/{video_id}/events", timeout=timeout_s,
                      headers={"authorization": f"Bearer {key}"}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
    return seen


@dataclass
class Takeover:
    video_id: str
    killed: int  # index of the replica killed
    attempts: int
    status: str
    charges: int
    seconds_kill_to_claim: float  # kill -9 -> the other replica claimed it
    seconds_kill_to_done: float
    progress_before_kill: int

    def figures(self) -> dict[str, Any]:
        return {"lease_s": LEASE_S, "seconds_kill_to_takeover": round(self.seconds_kill_to_claim, 2),
                "seconds_kill_to_completed": round(self.seconds_kill_to_done, 2), "attempts": self.attempts,
                "charges": self.charges, "status": self.status, "progress_before_kill": self.progress_before_kill}


def kill_mid_job(servers: list[KadrServer], db_url: str, key: str, timeout_s: float = 240) -> Takeover:
    """Submit a slow job, kill -9 the replica that runs it once it makes progress, and time the other's takeover."""
    video = client(servers[0], key).videos.create(**SLOW)
    db = Database(db_url)
    try:
        jobs = JobStore(db)

        def running_with_progress() -> tuple[int, int] | None:
            record = jobs.get(video.id)
            assert record is not None and record.status in ("queued", "running"), record
            if record.status == "running" and record.progress > 0:
                lease = next((lease for lease in jobs.running_leases() if lease.job_id == video.id), None)
                index = which_replica(lease.owner if lease else None, servers)
                return (index, record.progress) if index is not None else None
            return None

        owner_progress = _wait(running_with_progress, timeout_s, "the slow job to make progress")
        killed, progress = owner_progress
        servers[killed].kill9()
        killed_at = time.monotonic()
        survivor = servers[1 - killed]

        def claimed_by_survivor() -> bool:
            lease = next((lease for lease in jobs.running_leases() if lease.job_id == video.id), None)
            return lease is not None and which_replica(lease.owner, servers) == 1 - killed

        _wait(claimed_by_survivor, timeout_s, "the surviving replica to take the job over")
        claimed_at = time.monotonic()
        assert survivor.url
        record = _wait(lambda: (r := jobs.get(video.id)) is not None and r.terminal and r, timeout_s,
                       "the job to end on the surviving replica")
        done_at = time.monotonic()
        charges = sum(1 for e in jobs.ledger(video.id) if e.kind == "charge") - sum(
            1 for e in jobs.ledger(video.id) if e.kind == "refund")
        return Takeover(video.id, killed, record.attempt, record.status, charges, claimed_at - killed_at,
                        done_at - killed_at, progress)
    finally:
        db.close()


def _wait(probe, timeout_s: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval)
