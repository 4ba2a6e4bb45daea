"""Two `kadr serve` replicas on one real PostgreSQL share the queue (tests/replicas_scenario.py).

100 submissions from 10 users at once through both replicas (the official openai client): each user
gets exactly their plan's monthly limit, every accepted job is claimed once and runs once, one charge
each, a user's jobs never run two at a time across replicas, and both replicas do work. A job's
progress and end reach an event stream opened on the replica that does not run it. kill -9 of the
replica running a job: the other takes it over after its lease and finishes it, charged once.
SQLite refuses a second replica, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import KadrServer, kadr_env
from replicas_scenario import LIMITS, LEASE_S, SLOW, burst, client, events_of, kill_mid_job, start_replicas, which_replica

from kadr.service.jobspec import JobSpec
from kadr.service.plans import Plan, TierLimits
from kadr.service.store import Database, JobStore, StoreInUse, hold_single_replica


@pytest.mark.slow
def test_two_replicas_share_the_queue_limits_exact_jobs_run_once_events_cross_and_a_kill_is_taken_over(
        postgres, tmp_path: Path) -> None:
    db_url = postgres.new_database()
    servers = start_replicas(tmp_path, db_url)
    try:
        result, users = burst(servers, db_url)
        print(json.dumps({"replicas_burst": result.figures()}))
        assert result.submissions == 100
        for name, (plan, _key, _id) in users.items():
            assert len(result.accepted[name]) == LIMITS[plan], name  # none refused under the limit
            assert len(result.refused[name]) == 10 - LIMITS[plan], name  # none accepted over it
            for error in result.refused[name]:
                assert error["code"] == "monthly_videos", error
        assert all(n > 0 for n in result.accepted_by_replica), result.accepted_by_replica
        accepted = sum(map(len, result.accepted.values()))
        assert sorted(result.attempts.values()) == [1] * accepted  # every job succeeded, claimed and run once
        assert sum(result.claims_by_replica) == accepted and all(n > 0 for n in result.claims_by_replica), \
            result.claims_by_replica  # both replicas claimed jobs, and no claim is unaccounted for
        assert result.charges == {video_id: 1 for got in result.accepted.values() for video_id in got}
        assert result.refunds == 0
        assert result.overlapping_runs == 0  # concurrency 1 held across both replicas' claims

        # Events and progress of a job, read through the replica that does not run it.
        name = next(iter(users))
        key = users[name][1]
        video = client(servers[0], key).videos.create(**SLOW)
        db = Database(db_url)
        try:
            jobs = JobStore(db)
            runner = _wait_owner(jobs, video.id, servers)
            other = servers[1 - runner]
            seen = events_of(other, key, video.id)
        finally:
            db.close()
        progress = [e["progress"] for e in seen if e["status"] == "in_progress"]
        assert seen[-1]["status"] == "completed", seen[-1]
        assert len(progress) >= 3 and progress == sorted(progress) and 0 < max(progress) < 100, progress

        # kill -9 the replica that runs a job: the other takes it over once the lease runs out.
        takeover = kill_mid_job(servers, db_url, key)
        print(json.dumps({"replicas_takeover": takeover.figures()}))
        assert takeover.status == "succeeded" and takeover.attempts == 2 and takeover.charges == 1
        assert takeover.seconds_kill_to_claim <= LEASE_S + 5  # the lease, one reconciliation, one dispatch
        survivor = servers[1 - takeover.killed]
        content = client(survivor, key).videos.download_content(takeover.video_id)
        assert content.read()[4:8] == b"ftyp"  # an MP4 served by the replica that finished it
    finally:
        for server in servers:
            server.stop()


def unmetered_plan(concurrency: int, max_active: int) -> Plan:
    """A plan "p" with no monthly limits, one credit a video: only concurrency and the queue's size bind."""
    return Plan(name="p", monthly_credits=None, concurrency=concurrency, max_active=max_active,
                tiers={"fast": TierLimits(videos=None, cost=1), "high": TierLimits(videos=None, cost=1)})


def tiny_job_spec() -> JobSpec:
    """A small kadr-tiny job as the API would store it (request and plan)."""
    from kadr.engine import Engine
    from kadr.request import VideoRequest

    request = VideoRequest(prompt="a red ball", duration=1.0, aspect="1:1", resolution="64x64", fps=8, tier="fast",
                           model="kadr-tiny", seed=7)
    return JobSpec.of(request, Engine().plan(request))

def _wait_owner(jobs: JobStore, video_id: str, servers: list[KadrServer]) -> int:
    from replicas_scenario import _wait

    def owner() -> int | None:
        lease = next((lease for lease in jobs.running_leases() if lease.job_id == video_id), None)
        return which_replica(lease.owner, servers) if lease is not None else None

    return _wait(lambda: (index := owner()) is not None and (index,), 120, "a replica to claim the job")[0]


def test_a_second_replica_on_one_sqlite_store_is_refused_naming_postgresql(tmp_path: Path) -> None:
    first = KadrServer(tmp_path / "data", workers=0)
    first.start()
    try:
        second = subprocess.run([sys.executable, "-m", "kadr", "serve", "--port", "0", "--workers", "0",
                                 "--data", str(tmp_path / "data")], capture_output=True, text=True,
                                env=kadr_env(), timeout=60)
        assert second.returncode == 2
        assert "is in use by another kadr serve" in second.stderr and "PostgreSQL" in second.stderr, second.stderr
    finally:
        first.kill9()
    # Once the first has gone, however (the lock is the kernel's: kill -9 frees it too), the store is free.
    url = f"sqlite:///{tmp_path / 'data' / 'kadr.db'}"
    lock = hold_single_replica(url)
    try:
        assert lock is not None
        with pytest.raises(StoreInUse, match="in use by another kadr serve"):
            hold_single_replica(url)  # and held again, now by this process
    finally:
        os.close(lock)


def test_leases_let_only_expired_jobs_be_requeued(postgres) -> None:
    """The store's side: a live lease keeps a job from re-queuing; an expired one (or none) does not."""
    from kadr.service.jobs import NewJob
    from kadr.service.store import UserStore, new_job_id

    db = Database(postgres.new_database())
    db.create_schema()
    try:
        users, jobs = UserStore(db), JobStore(db)
        plan = unmetered_plan(concurrency=2, max_active=10)
        ann = users.add("ann", "p", 1000.0).user
        spec = tiny_job_spec()
        for _ in range(2):
            jobs.submit(NewJob(new_job_id(), ann.id, spec, None, 1), plan, 1000.0)
        a = jobs.claim_next(1000.0, lambda _p: 2, owner="replica-a", lease_s=30)
        b = jobs.claim_next(1000.0, lambda _p: 2, owner="replica-b", lease_s=30)
        assert a is not None and b is not None and a.id != b.id  # one job each, never the same
        assert jobs.renew_leases("replica-a", [(a.id, 1), (b.id, 1)], 1020.0, 30) == {(a.id, 1)}  # not b's job
        requeued, _ = jobs.requeue_running(1040.0, 3, only_expired=True)  # b's lease ran out at 1030, a's holds
        assert [r.id for r in requeued] == [b.id]
        assert jobs.retry_or_fail(a.id, 1, "worker_lost", "x", 3, 1040.0, lease_expired=True) is None  # a holds it
        assert jobs.retry_or_fail(a.id, 1, "worker_lost", "x", 3, 1051.0, lease_expired=True).status == "queued"
    finally:
        db.close()


def test_claims_race_from_threads_never_give_one_job_twice_nor_break_concurrency(postgres) -> None:
    """Eight claimers (as if on eight replicas) race for 40 jobs of 4 users with concurrency 1."""
    from kadr.service.jobs import NewJob
    from kadr.service.store import Succeeded, UserStore, new_job_id

    db = Database(postgres.new_database())
    db.create_schema()
    try:
        users, jobs = UserStore(db), JobStore(db)
        plan = unmetered_plan(concurrency=1, max_active=100)
        spec = tiny_job_spec()
        people = [users.add(f"u{i}", "p", 1000.0).user for i in range(4)]
        for _ in range(10):
            for person in people:
                jobs.submit(NewJob(new_job_id(), person.id, spec, None, 1), plan, 1000.0)
        claimed: list[str] = []
        running_seen: list[int] = []  # the user's running jobs in the store, read while each claim runs
        lock = threading.Lock()

        def claimer(index: int) -> None:
            while True:
                record = jobs.claim_next(1000.0, lambda _p: 1, owner=f"replica-{index}", lease_s=30)
                if record is None:
                    with lock:
                        if len(claimed) == 40:
                            return
                    time.sleep(0.005)
                    continue
                running = jobs.usage(record.user_id, 1000.0).running  # a second claim for this user would show here
                with lock:
                    claimed.append(record.id)
                    running_seen.append(running)
                jobs.finish(record.id, record.attempt, Succeeded("/v.mp4", "/v.png", None, {}, None), 1001.0)

        threads = [threading.Thread(target=claimer, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(claimed) == 40 and len(set(claimed)) == 40  # each job claimed exactly once
        assert set(running_seen) == {1}  # never two of one user's jobs running at once (concurrency 1)
    finally:
        db.close()


def test_replicas_starting_together_on_a_new_database_make_its_schema_once(postgres) -> None:
    """Several replicas' create_schema at the same moment on an empty database: none fails (CI saw
    'duplicate key value violates unique constraint pg_type_typname_nsp_index' before the schema lock)."""
    url = postgres.new_database()
    databases = [Database(url) for _ in range(6)]
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def create(db: Database) -> None:
        start.wait()
        try:
            db.create_schema()
        except BaseException as exc:  # collected: the assert below names it
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        with databases[0].connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT count(*) FROM kadr_meta WHERE key = 'schema_version'")).scalar() == 1
    finally:
        for db in databases:
            db.engine.dispose()


def test_a_store_made_before_leases_gets_its_new_columns_at_start(store_url: str) -> None:
    from sqlalchemy import inspect, text

    from kadr.service.store.schema import SCHEMA_VERSION

    db = Database(store_url)
    try:
        db.create_schema()
        with db.engine.begin() as conn:  # as an older kadr left it: schema 1, no owner or lease
            conn.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
            conn.execute(text("ALTER TABLE jobs DROP COLUMN lease_until"))
            conn.execute(text("UPDATE kadr_meta SET value = '1' WHERE key = 'schema_version'"))
        db.close()
        db = Database(store_url)
        db.create_schema()
        columns = {column["name"] for column in inspect(db.engine).get_columns("jobs")}
        assert {"owner", "lease_until"} <= columns and db.schema_version() == SCHEMA_VERSION == 2
    finally:
        db.close()


def test_a_due_webhook_goes_to_one_sender_until_its_hold_runs_out(store_url: str) -> None:
    """Every replica runs a webhook sender on the one outbox: a due delivery is handed to one of them at a time."""
    from kadr.service.jobs import NewJob
    from kadr.service.store import Succeeded, UserStore, new_job_id

    db = Database(store_url)
    db.create_schema()
    try:
        users, jobs = UserStore(db), JobStore(db)
        plan = unmetered_plan(concurrency=1, max_active=10)
        ann = users.add("ann", "p", 1000.0, webhook_url="http://127.0.0.1:9/hook").user
        spec = tiny_job_spec()
        job = jobs.submit(NewJob(new_job_id(), ann.id, spec, None, 1), plan, 1000.0)
        jobs.claim_next(1000.0, lambda _p: 1, owner="replica-a")
        jobs.finish(job.id, 1, Succeeded("/v.mp4", "/v.png", None, {}, None), 1000.0)
        (first,) = jobs.due_deliveries(1001.0, hold_s=60)
        assert jobs.due_deliveries(1002.0, hold_s=60) == []  # the other replica's sender finds nothing to send
        (again,) = jobs.due_deliveries(1062.0, hold_s=60)  # the first sender died holding it: sent again
        assert again.id == first.id
        jobs.delivery_done(again.id, 1063.0)
        assert jobs.due_deliveries(2000.0) == [] and jobs.deliveries(job.id) == [("video.completed", "delivered", 1)]
    finally:
        db.close()
