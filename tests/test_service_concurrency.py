"""100 submissions at once over HTTP from 10 users against a live `kadr serve`: limits hold exactly.

Half the users are on a plan of 4 fast videos a month, half on one of 7. Every user sends 10
submissions, all released together from a barrier, so the quota check of each user is raced by its
own 10 requests and by the other 90. Exactly the limit is accepted per user, every refused one is a
429 naming the monthly limit and its reset, every accepted video completes, and the ledger, the usage
report, the listing and the files agree with what the clients were told.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import httpx
import pytest
from conftest import KadrServer, wait_until

from kadr.service.plans import iso, period_bounds
from kadr.service.store import Database, JobStore, UserStore

USERS = 10
PER_USER = 10
LIMITS = {"quota4": 4, "quota7": 7}
BODY = {"prompt": "a red ball rolls on the grass", "seconds": "1", "quality": "fast", "size": "32x32", "fps": 8}


@dataclass
class Served:
    server: KadrServer
    db_url: str


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, plans_file) -> Iterator[Served]:
    if request.param == "sqlite":  # the shared live server is on SQLite
        live: KadrServer = request.getfixturevalue("live_server")
        yield Served(live, f"sqlite:///{live.data / 'kadr.db'}")
        return
    url = request.getfixturevalue("postgres").new_database()
    server = KadrServer(tmp_path_factory.mktemp("race-pg"), db=url, workers=2, plans=plans_file)
    server.start()
    try:
        yield Served(server, url)
    finally:
        server.stop()


@dataclass
class Answer:
    user: str
    status: int
    body: dict
    headers: httpx.Headers


@pytest.mark.slow
def test_100_concurrent_submissions_from_10_users_never_over_grant(served: Served) -> None:
    db = Database(served.db_url)
    users, jobs = UserStore(db), JobStore(db)
    try:
        plan_of: dict[str, str] = {}
        keys: dict[str, str] = {}
        ids: dict[str, int] = {}
        for i in range(USERS):
            plan = "quota4" if i % 2 == 0 else "quota7"
            made = users.add(f"race{i}-{uuid.uuid4().hex[:6]}", plan, time.time())
            plan_of[made.user.name], keys[made.user.name], ids[made.user.name] = plan, made.api_key, made.user.id

        answers: list[Answer] = []
        lock = threading.Lock()
        barrier = threading.Barrier(USERS * PER_USER)

        def submit(name: str) -> None:
            with httpx.Client(base_url=served.server.url, timeout=120,
                              headers={"authorization": f"Bearer {keys[name]}"}) as client:
                barrier.wait()
                response = client.post("/v1/videos", json=BODY)
            with lock:
                answers.append(Answer(name, response.status_code, response.json(), response.headers))

        threads = [threading.Thread(target=submit, args=(name,)) for name in keys for _ in range(PER_USER)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert len(answers) == USERS * PER_USER  # every request was answered
        assert Counter(a.status for a in answers) == {200: sum(LIMITS[p] for p in plan_of.values()),
                                                     429: sum(PER_USER - LIMITS[p] for p in plan_of.values())}
        resets = iso(period_bounds(time.time())[1])
        accepted: dict[str, set[str]] = {name: set() for name in keys}
        for a in answers:
            if a.status == 200:
                assert a.body["status"] == "queued" and a.body["object"] == "video"
                accepted[a.user].add(a.body["id"])
                continue
            error = a.body["error"]
            limit = LIMITS[plan_of[a.user]]
            assert (error["type"], error["code"]) == ("insufficient_quota", "monthly_videos")
            assert error["message"] == (f"Monthly fast video limit reached: {limit} of {limit} fast videos used this "
                                        f"month on plan '{plan_of[a.user]}'. The count resets at {resets}.")
            assert a.headers["x-kadr-limit-resets-at"] == resets and a.headers["x-should-retry"] == "false"
        for name, got in accepted.items():
            assert len(got) == LIMITS[plan_of[name]], name  # exactly the limit, no more, no less

        def all_done() -> bool:
            done = True
            for name in keys:
                listing = httpx.get(served.server.url + "/v1/videos", params={"limit": 100}, timeout=30,
                                    headers={"authorization": f"Bearer {keys[name]}"}).json()
                statuses = [v["status"] for v in listing["data"]]
                assert "failed" not in statuses, listing
                done = done and all(s == "completed" for s in statuses)
            return done

        wait_until(all_done, 300, "every accepted video to complete", interval=0.5)
        for name in keys:
            auth = {"authorization": f"Bearer {keys[name]}"}
            listing = httpx.get(served.server.url + "/v1/videos", params={"limit": 100}, headers=auth, timeout=30).json()
            assert {v["id"] for v in listing["data"]} == accepted[name] and not listing["has_more"]
            ledger = jobs.ledger(user_id=ids[name])
            assert sorted(e.job_id for e in ledger) == sorted(accepted[name]) and {e.kind for e in ledger} == {"charge"}
            usage = httpx.get(served.server.url + "/v1/usage", headers=auth, timeout=30).json()
            limit = LIMITS[plan_of[name]]
            assert usage["tiers"]["fast"] == {"used": limit, "limit": limit, "left": 0,
                                              "cost": 10 if limit == 4 else 3,
                                              "credits_used": limit * (10 if limit == 4 else 3)}
            assert usage["active"]["count"] == 0 and usage["resets_at"] == resets
            for video_id in accepted[name]:
                record = jobs.get(video_id)
                assert record is not None and record.attempt == 1
                assert (served.server.data / "videos" / video_id / "video.mp4").is_file()
    finally:
        db.close()
